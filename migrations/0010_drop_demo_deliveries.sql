-- The demo consumer moved to its own worker (examples/jobs-worker), which counts its deliveries
-- itself: the ledger's database no longer keeps anything of the demo.
DROP TABLE IF EXISTS demo_deliveries;

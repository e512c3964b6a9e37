export { seeded } from "../../src/ledger/setup";

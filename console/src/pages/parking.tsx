import { api, type Parked } from "../api";
import { useInterval, useLoad } from "../hooks";
import { links } from "../router";
import { Empty, ErrorNote, Loading, num, Time } from "../ui";

/** What the DLQ consumer itself could not handle: archived raw in R2, listed here, never dropped. */
export function ParkingPage() {
  const parked = useLoad("parking", () => api<Parked>("/api/queue/dlq/parking", { query: { limit: 200 } }));
  useInterval(parked.reload, 10_000);
  return (
    <>
      <h1>Parking</h1>
      <p class="muted">
        Messages that failed inside dlq-ledger itself land in the parking queue and are archived raw under <code>_parking/</code> in R2. Bodies that
        could not be read at all are <a href={links.failures("_quarantine")}>quarantined</a> instead.
      </p>
      <ErrorNote error={parked.error} action="load the parking list" />
      {!parked.data ? (
        parked.loading ? <Loading what="parked messages" /> : null
      ) : parked.data.total === 0 ? (
        <Empty>Nothing is parked. That is the normal state.</Empty>
      ) : (
        <>
          <p>
            <strong>{num(parked.data.total)}</strong> parked in all; the most recent:
          </p>
          <table class="list" aria-label="Parked messages">
            <thead>
              <tr>
                <th scope="col">Message</th>
                <th scope="col">Queue</th>
                <th scope="col">Archive key</th>
                <th scope="col" class="n">Bytes</th>
                <th scope="col" class="n">Attempts</th>
                <th scope="col">Parked</th>
              </tr>
            </thead>
            <tbody>
              {parked.data.items.map((p) => (
                <tr key={p.messageId}>
                  <td>
                    <code>{p.messageId}</code>
                  </td>
                  <td>{p.queue}</td>
                  <td>
                    <code>{p.archiveKey}</code>
                  </td>
                  <td class="n">{num(p.bytes)}</td>
                  <td class="n">{num(p.attempts)}</td>
                  <td>
                    <Time iso={p.parkedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

/**
 * A checked result: verdict, each check, the signed figures, charts and the coverage warning.
 * A v3 result adds an equity curve and daily PnL from its signed daily series.
 */
import type { AggregatesPayload } from '../../../src/client/index.js';
import { BarChart, DailyChart } from '../charts.js';
import type { ResultVerification } from '../verify.js';

/** The charts of a v3 daily series: the equity curve, then daily PnL. */
const DAILY_CHARTS = [
  ['Equity curve (cumulative realized PnL)', 'cumulative', 'line'],
  ['Daily realized PnL', 'pnl', 'bars'],
] as const;

function Figures({ p }: { p: AggregatesPayload }) {
  const rows: [string, string][] = [
    ['Window', `${p.from} → ${p.to}`],
    ['Exchange', `${p.exchange} (${p.api_host})`],
    ['Trades', String(p.trades)],
    ['PnL', `${p.pnl} ${p.reporting_currency}`],
    ['Volume', `${p.volume} ${p.reporting_currency}`],
    ['Sharpe', p.sharpe === null ? 'n/a' : String(p.sharpe)],
    ['Max drawdown', String(p.max_drawdown)],
    ['Win rate', p.win_rate === null ? 'n/a' : `${(p.win_rate * 100).toFixed(1)} %`],
    ['Symbols scanned', p.symbols_scanned.join(', ') || 'none'],
    ['Computed at', p.computed_at],
  ];
  return (
    <table class="figures" data-testid="figures">
      <caption>Signed figures</caption>
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ResultView({ r }: { r: ResultVerification }) {
  const p = r.payload;
  const symbols = p ? Object.keys(p.symbols) : [];
  return (
    <section aria-label="Verification" class="card">
      <p
        class={r.valid ? 'verdict verdict-ok' : 'verdict verdict-bad'}
        role={r.valid ? 'status' : 'alert'}
        data-testid="verdict"
      >
        {!r.valid
          ? 'REFUSED: this result does not verify'
          : r.pinned
            ? 'VERIFIED: signed by the attested enclave and included in the log'
            : 'VERIFIED (measurement not pinned in this browser): signed by an attested enclave and included in the log'}
      </p>
      <ul class="checks" data-testid="checks">
        {r.checks.map((c) => (
          <li key={c.name} class={c.ok ? 'ok' : 'bad'}>
            <strong>
              {c.ok ? '✓' : '✗'} {c.name}
            </strong>
            : {c.detail}
          </li>
        ))}
      </ul>
      {r.coverage && (
        <p class="msg msg-warn" role="note" data-testid="coverage">
          Warning: {r.coverage}
        </p>
      )}
      {p && (
        <>
          <Figures p={p} />
          {p.version === 'cloister/aggregates/v3' ? (
            p.daily.length > 0 && (
              <div data-testid="daily-charts">
                {DAILY_CHARTS.map(([title, member, kind]) => (
                  <DailyChart
                    key={member}
                    title={title}
                    days={p.daily.map((d) => d.day)}
                    values={p.daily.map((d) => d[member])}
                    unit={p.reporting_currency}
                    kind={kind}
                  />
                ))}
              </div>
            )
          ) : (
            <p class="msg" role="note" data-testid="no-daily">
              This {p.version} result has no signed daily series: no equity curve or daily PnL.
            </p>
          )}
          {symbols.length > 0 && (
            <>
              <BarChart
                title="Realized PnL by symbol"
                labels={symbols}
                values={symbols.map((s) => Number(p.symbols[s]!.pnl))}
                unit="quote currency"
              />
              <BarChart
                title="Volume by symbol"
                labels={symbols}
                values={symbols.map((s) => Number(p.symbols[s]!.volume))}
                unit="quote currency"
              />
            </>
          )}
        </>
      )}
    </section>
  );
}

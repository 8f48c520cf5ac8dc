/** uPlot charts from the signed figures (no inline style element: uPlot's CSS is bundled). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const STROKE = '#1f5fbf';
const FILL = 'rgba(31,95,191,0.35)';

/** One uPlot chart in a figure, rebuilt when `deps` changes; `label` is its text alternative. */
function Plot(props: {
  label: string;
  deps: string;
  make: (width: number) => { opts: uPlot.Options; data: uPlot.AlignedData } | null;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    const made = el ? props.make(Math.min(720, el.clientWidth || 640)) : null;
    if (!el || !made) return;
    const plot = new uPlot(made.opts, made.data, el);
    return () => plot.destroy();
  }, [props.deps]);
  return (
    <figure class="chart">
      <div ref={ref} role="img" aria-label={props.label} />
    </figure>
  );
}

/** A bar chart of `values` by category (uPlot's bars path builder; x is the category index). */
export function BarChart(props: {
  title: string;
  labels: string[];
  values: number[];
  unit: string;
}) {
  const { title, labels, values, unit } = props;
  return (
    <Plot
      label={`${title}: ${labels.map((l, i) => `${l} ${values[i]}`).join(', ')}`}
      deps={`${title}|${labels.join()}|${values.join()}`}
      make={(width) => {
        if (labels.length === 0) return null;
        const xs = labels.map((_, i) => i);
        return {
          opts: {
            width,
            height: 260,
            title,
            scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
            axes: [
              {
                values: (_u, splits) => splits.map((i) => labels[Math.round(i)] ?? ''),
                splits: () => xs,
              },
              { label: unit },
            ],
            series: [
              {},
              {
                label: title,
                stroke: STROKE,
                fill: FILL,
                paths: uPlot.paths.bars!({ size: [0.6, 80] }),
                points: { show: false },
              },
            ],
            legend: { show: false },
          },
          data: [xs, values],
        };
      }}
    />
  );
}

/**
 * A chart over UTC days (`YYYY-MM-DD`): a line (the equity curve) or bars (daily PnL). The
 * values are the signed decimal strings read as numbers, for drawing only.
 */
export function DailyChart(props: {
  title: string;
  days: string[];
  values: string[];
  unit: string;
  kind: 'line' | 'bars';
}) {
  const { title, days, values, unit, kind } = props;
  const n = days.length;
  const label =
    n === 0
      ? `${title}: no days`
      : n <= 31
        ? `${title} (${unit}): ${days.map((d, i) => `${d} ${values[i]}`).join(', ')}`
        : `${title} (${unit}), ${n} days from ${days[0]} (${values[0]}) to ${days[n - 1]} (${values[n - 1]})`;
  return (
    <Plot
      label={label}
      deps={`${kind}|${title}|${days.join()}|${values.join()}`}
      make={(width) => {
        if (n === 0) return null;
        const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
        return {
          opts: {
            width,
            height: 260,
            title,
            tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
            axes: [{}, { label: unit }],
            series: [
              {},
              kind === 'bars'
                ? {
                    label: title,
                    stroke: STROKE,
                    fill: FILL,
                    paths: uPlot.paths.bars!({ size: [0.7, 40] }),
                    points: { show: false },
                  }
                : { label: title, stroke: STROKE, width: 2, points: { show: n <= 62 } },
            ],
            legend: { show: false },
          },
          data: [xs, values.map(Number)],
        };
      }}
    />
  );
}

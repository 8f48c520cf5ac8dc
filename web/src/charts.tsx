/** uPlot charts from the signed figures (no inline style element: uPlot's CSS is bundled). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A bar chart of `values` by category (uPlot's bars path builder; x is the category index). */
export function BarChart(props: {
  title: string;
  labels: string[];
  values: number[];
  unit: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || props.labels.length === 0) return;
    const xs = props.labels.map((_, i) => i);
    const plot = new uPlot(
      {
        width: Math.min(720, el.clientWidth || 640),
        height: 260,
        title: props.title,
        scales: { x: { time: false, range: [-0.5, props.labels.length - 0.5] } },
        axes: [
          {
            values: (_u, splits) => splits.map((i) => props.labels[Math.round(i)] ?? ''),
            splits: () => xs,
          },
          { label: props.unit },
        ],
        series: [
          {},
          {
            label: props.title,
            stroke: '#1f5fbf',
            fill: 'rgba(31,95,191,0.35)',
            paths: uPlot.paths.bars!({ size: [0.6, 80] }),
            points: { show: false },
          },
        ],
        legend: { show: false },
      },
      [xs, props.values],
      el,
    );
    return () => plot.destroy();
  }, [props.labels.join(), props.values.join(), props.title]);
  return (
    <figure class="chart">
      <div
        ref={ref}
        role="img"
        aria-label={`${props.title}: ${props.labels.map((l, i) => `${l} ${props.values[i]}`).join(', ')}`}
      />
    </figure>
  );
}

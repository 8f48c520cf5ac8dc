export function LogPage() {
  return (
    <section>
      <h1>Log</h1>
    </section>
  );
}

export function OperatorPage() {
  return (
    <section>
      <h1>Operator</h1>
    </section>
  );
}

export function WalletsPage() {
  return (
    <section>
      <h1>Wallets</h1>
    </section>
  );
}

/**
 * Cloister's web app. Every page shows the enclave's trust state as verified in this browser
 * (trust.ts); the SDK in src/client does all the cryptography. Pages are chosen by path; the
 * service serves index.html for each (src/host/http/routes/web.ts lists the same paths).
 */
import './no-eval.js';
import './no-cookies.js';
import { render } from 'preact';
import { useEffect, useLayoutEffect } from 'preact/hooks';
import { account, signOut } from './api.js';
import { Link, TrustBanner } from './components.js';
import { RecoveryAlert } from './recovery-alert.js';
import { route } from './router.js';
import { useStore } from './store.js';
import { startTrustLoop } from './trust.js';
import { AccountPage } from './pages/Account.js';
import { KeysPage } from './pages/Keys.js';
import { LogPage } from './pages/Log.js';
import { OperatorPage } from './pages/Operator.js';
import { ReportPage } from './pages/Report.js';
import { SignInPage } from './pages/SignIn.js';
import { StepUpDialog } from './pages/StepUp.js';
import { TrustPage } from './pages/Trust.js';
import { VerifyPage } from './pages/Verify.js';
import { WalletsPage } from './pages/Wallets.js';
import './styles.css';

interface Page {
  path: string;
  title: string;
  render: () => preact.JSX.Element;
  /** Needs a signed-in account. */
  account?: boolean;
  operator?: boolean;
}

const PAGES: Page[] = [
  { path: '/keys', title: 'Keys', render: () => <KeysPage />, account: true },
  { path: '/report', title: 'Report', render: () => <ReportPage />, account: true },
  { path: '/wallet', title: 'Wallets', render: () => <WalletsPage />, account: true },
  { path: '/account', title: 'Account', render: () => <AccountPage />, account: true },
  { path: '/log', title: 'Log', render: () => <LogPage /> },
  { path: '/verify', title: 'Verify', render: () => <VerifyPage /> },
  { path: '/trust', title: 'Trust', render: () => <TrustPage /> },
  {
    path: '/operator',
    title: 'Operator',
    render: () => <OperatorPage />,
    account: true,
    operator: true,
  },
  { path: '/signin', title: 'Sign in', render: () => <SignInPage /> },
];

function App() {
  const path = useStore(route);
  const a = useStore(account);
  useEffect(() => startTrustLoop(), []);
  const page =
    PAGES.find((p) => p.path === path) ??
    (a ? PAGES[0]! : PAGES.find((p) => p.path === '/signin')!);
  // The new page takes the focus in the same task as the render that shows it, before the next
  // key: after a paint (useEffect) it came a frame or more later and took the focus from a
  // field the user had already tabbed to and was typing in.
  useLayoutEffect(() => {
    document.title = `${page.title} · Cloister`;
    document.getElementById('main')?.focus();
  }, [page.path]);
  const visible = PAGES.filter(
    (p) =>
      (!p.account || a) &&
      (!p.operator || a?.roles.includes('operator')) &&
      !(a && p.path === '/signin'),
  );
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <p class="brand">Cloister</p>
        <nav aria-label="Main">
          <ul>
            {visible.map((p) => (
              <li key={p.path}>
                <Link href={p.path} current={p.path === page.path}>
                  {p.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {a && (
          <p class="who">
            {a.email}{' '}
            <button type="button" onClick={() => void signOut()}>
              Sign out
            </button>
          </p>
        )}
      </header>
      <TrustBanner />
      <RecoveryAlert />
      <main id="main" tabIndex={-1}>
        {page.account && !a ? <SignInPage /> : page.render()}
      </main>
      <StepUpDialog />
    </>
  );
}

render(<App />, document.getElementById('app')!);

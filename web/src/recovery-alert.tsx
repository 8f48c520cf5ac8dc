/**
 * A loud notice on every page while an account recovery is pending. Recovery is started by
 * whoever holds the mailbox; its time-lock only protects an owner who learns of it, so the app
 * asks at sign-in and on every page change, not only on /account (where Cancel is).
 */
import { useEffect, useState } from 'preact/hooks';
import { account, withSession } from './api.js';
import { Link } from './components.js';
import { route } from './router.js';
import { sdk } from './sign-in.js';
import { useStore } from './store.js';

export function RecoveryAlert() {
  const a = useStore(account);
  const path = useStore(route);
  const [unlockAt, setUnlockAt] = useState<string | null>(null);
  useEffect(() => {
    if (!a) {
      setUnlockAt(null);
      return;
    }
    let live = true;
    withSession((t) => sdk(t).recoveryStatus())
      .then((r) => live && setUnlockAt(r.pending?.unlock_at ?? null))
      // A failed check shows nothing new: the account page reports errors where it asks.
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [a?.userId, path]);
  if (!a || unlockAt === null) return null;
  return (
    <section class="recovery-alert" role="alert" data-testid="recovery-alert">
      <strong>Account recovery pending.</strong> Someone with access to this account's email asked
      to replace its password; it happens after {new Date(unlockAt).toLocaleString()}. If that was
      not you, <Link href="/account">cancel it on the Account page</Link>.
    </section>
  );
}

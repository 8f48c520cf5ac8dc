/**
 * Step-up: when an operation answers 401 STEP_UP_REQUIRED, api.ts asks here for a recent
 * authentication and retries once. The dialog (StepUpDialog in pages/StepUp.tsx) offers the
 * second factor (`POST /auth/step-up` with a TOTP or recovery code: same session, `mfa` added)
 * or a fresh sign-in (password or passkey), whose new tokens replace the tab's.
 */
import { Store } from './store.js';

export interface StepUpRequest {
  /** What the service said it accepts (the error's details), shown to the user. */
  reason: string;
  done: () => void;
  cancel: () => void;
}

export const stepUp = new Store<StepUpRequest | null>(null);

/** Resolves once the user has stepped up; rejects when they cancel. One prompt at a time. */
export function requestStepUp(reason: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stepUp.get()?.cancel();
    stepUp.set({
      reason,
      done: () => {
        stepUp.set(null);
        resolve();
      },
      cancel: () => {
        stepUp.set(null);
        reject(new Error('Step-up cancelled: the operation was not done'));
      },
    });
  });
}

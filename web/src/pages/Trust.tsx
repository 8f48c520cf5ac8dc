/** What this browser trusts: pinned measurement(s), cluster id, simulated vendor key, API hosts. */
import { useState } from 'preact/hooks';
import { Field, Message } from '../components.js';
import { useStore } from '../store.js';
import { pins as pinStore, savePins, trust as trustStore, verifyEnclave } from '../trust.js';

const lines = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

export function TrustPage() {
  const p = useStore(pinStore);
  const t = useStore(trustStore);
  const [measurements, setMeasurements] = useState(p.measurements.join('\n'));
  const [clusterId, setClusterId] = useState(p.clusterId);
  const [vendorKeys, setVendorKeys] = useState(p.vendorKeys.join('\n'));
  const [apiHosts, setApiHosts] = useState(p.apiHosts.join('\n'));
  const [saved, setSaved] = useState('');

  const save = async (e: Event) => {
    e.preventDefault();
    savePins({
      measurements: lines(measurements).map((m) => m.toLowerCase()),
      clusterId: clusterId.trim().toLowerCase(),
      vendorKeys: lines(vendorKeys),
      apiHosts: lines(apiHosts),
    });
    const s = await verifyEnclave();
    setSaved(`Pins saved; the enclave ${s.status === 'verified' ? 'verified' : `is ${s.status}`}.`);
  };
  const pinReported = async () => {
    if (!t.measurement) return;
    setMeasurements(t.measurement);
    savePins({ measurements: [t.measurement] });
    const s = await verifyEnclave();
    setSaved(
      `Measurement pinned; the enclave ${s.status === 'verified' ? 'verified' : `is ${s.status}`}.`,
    );
  };

  return (
    <section aria-labelledby="trust-h">
      <h1 id="trust-h">Trust</h1>
      <p>
        Before anything secret leaves this browser, the enclave's attestation evidence is verified
        here, by the Cloister SDK, against what you pin below. Pin the measurement you built
        yourself (<code>npm run build:enclave</code> prints it) or the one your organisation
        publishes.
      </p>
      {t.reasons.length > 0 && (
        <div role="alert" class="msg msg-error">
          <p>Why the evidence was refused:</p>
          <ul>
            {t.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </div>
      )}
      {t.status === 'unpinned' && (
        <p>
          The evidence verifies for measurement{' '}
          <code data-testid="reported-measurement">{t.measurement}</code>.{' '}
          <button type="button" onClick={pinReported} data-testid="pin-reported">
            Pin this measurement
          </button>
        </p>
      )}
      <form onSubmit={save}>
        <Field id="pin-m" label="Expected measurement(s), hex, one per line">
          <textarea
            id="pin-m"
            rows={2}
            value={measurements}
            onInput={(e) => setMeasurements(e.currentTarget.value)}
          />
        </Field>
        <Field id="pin-c" label="Expected cluster id (optional)">
          <input
            id="pin-c"
            value={clusterId}
            onInput={(e) => setClusterId(e.currentTarget.value)}
          />
        </Field>
        <Field
          id="pin-v"
          label="Simulated vendor key (development only)"
          hint="The simulated platform signs with a key in the service's data folder: data/simulated-platform/vendor.pub. Trusting it means trusting that machine; real TEEs need nothing here."
        >
          <textarea
            id="pin-v"
            rows={2}
            aria-describedby="pin-v-hint"
            value={vendorKeys}
            onInput={(e) => setVendorKeys(e.currentTarget.value)}
          />
        </Field>
        <Field
          id="pin-h"
          label="Also accept figures from these exchange API hosts"
          hint="Signed results name the API host the enclave read; only the exchanges' production hosts are accepted unless you add one (a testnet, a local fake exchange)."
        >
          <textarea
            id="pin-h"
            rows={2}
            aria-describedby="pin-h-hint"
            value={apiHosts}
            onInput={(e) => setApiHosts(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Save pins and verify</button>
      </form>
      {saved && <Message kind="info">{saved}</Message>}
    </section>
  );
}

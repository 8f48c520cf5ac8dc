/**
 * A small SMTP client (RFC 5321, STARTTLS RFC 3207, AUTH PLAIN RFC 4616) so the enclave sends
 * its one-time-code mails itself: the code exists only in this process and in the mail, never
 * on the host. The connection goes out like exchange traffic: `direct` from this process
 * (simulated platform), or `tunnel` through the host's CONNECT proxy with TLS ending here, so
 * the host relays ciphertext. `smtps://` is TLS from the first byte; `smtp://` must offer
 * STARTTLS, except to localhost on the simulated platform (`allowPlainLocal`), like plain-HTTP
 * exchange URLs there. Replies are bounded; errors are EgressError with a fixed message.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { trustedRoots } from './direct.js';
import { EgressError } from './errors.js';
import { openTunnel, type ProxyAddress } from './tunnel.js';

export interface SmtpTarget {
  secure: boolean;
  host: string;
  port: number;
  user?: string;
  pass?: string;
}

export interface SmtpOptions {
  /** Absent: direct sockets. Present: CONNECT tunnel through the host. */
  proxy?: ProxyAddress;
  caPem?: string | readonly string[];
  /** Plain smtp:// without STARTTLS to localhost (simulated platform only). */
  allowPlainLocal: boolean;
  timeoutMs?: number;
}

export interface Mail {
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** smtps://user:pass@host:465 or smtp://host:587 (STARTTLS). */
export function parseSmtpUrl(url: string): SmtpTarget {
  const u = new URL(url);
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error('SMTP_URL scheme');
  const secure = u.protocol === 'smtps:';
  return {
    secure,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { pass: decodeURIComponent(u.password) } : {}),
  };
}

const LOCAL = new Set(['localhost', '127.0.0.1', '::1']);
const MAX_REPLY = 16 * 1024;

/** Reads SMTP replies (possibly multi-line) from whatever socket is current. */
class Conversation {
  private buf = '';
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      if (this.buf.length > MAX_REPLY) this.fail(new EgressError('EGRESS_TOO_LARGE'));
      this.waiter?.();
    });
    socket.on('error', () => this.fail(new EgressError('EGRESS_NETWORK')));
    socket.on('close', () => this.fail(new EgressError('EGRESS_NETWORK')));
  }

  /**
   * Stop reading the plain socket before TLS takes it over. Bytes already read past the "220"
   * to STARTTLS came in plain text after it: whoever sits on the path (the host, for a tunnel)
   * put them there to be read as replies from inside TLS, so the conversation ends.
   */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    if (this.buf !== '') throw new EgressError('EGRESS_NETWORK', 'smtp data after STARTTLS');
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.waiter?.();
  }

  async reply(): Promise<{ code: number; text: string }> {
    for (;;) {
      const lines = this.buf.split('\r\n');
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3} /.test(lines[i]!) || /^\d{3}$/.test(lines[i]!)) {
          const text = lines.slice(0, i + 1).join('\n');
          this.buf = lines.slice(i + 1).join('\r\n');
          return { code: Number(lines[i]!.slice(0, 3)), text };
        }
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }

  async command(line: string, expect: number[]): Promise<string> {
    this.socket.write(`${line}\r\n`);
    const r = await this.reply();
    if (!expect.includes(r.code)) throw new EgressError('EGRESS_NETWORK', `smtp ${r.code}`);
    return r.text;
  }
}

/** The RFC 5322 text: headers, then the body with CRLF line ends and dot-stuffing. */
export function renderMail(mail: Mail, date: Date, messageId: string): string {
  const body = mail.text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  return [
    `From: ${mail.from}`,
    `To: ${mail.to}`,
    `Subject: ${mail.subject}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    body,
  ].join('\r\n');
}

function upgrade(socket: Socket, target: SmtpTarget, opts: SmtpOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket,
      servername: target.host,
      ca: trustedRoots(opts.caPem),
      // Explicit, as in the exchange transports: the default reads NODE_TLS_REJECT_UNAUTHORIZED.
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', () => reject(new EgressError('EGRESS_TLS')));
  });
}

async function rawSocket(target: SmtpTarget, opts: SmtpOptions, ms: number): Promise<Socket> {
  if (opts.proxy) return openTunnel(opts.proxy, target.host, target.port, ms);
  return new Promise((resolve, reject) => {
    const s = netConnect(target.port, target.host);
    s.once('connect', () => resolve(s));
    s.once('error', () => reject(new EgressError('EGRESS_NETWORK')));
  });
}

/** Sends one mail; resolves once the server accepted it (250 after DATA). */
export async function sendMail(target: SmtpTarget, mail: Mail, opts: SmtpOptions): Promise<void> {
  const ms = opts.timeoutMs ?? 30_000;
  const raw = await rawSocket(target, opts, ms);
  const timer = setTimeout(() => raw.destroy(), ms);
  try {
    const sock = target.secure ? await upgrade(raw, target, opts) : raw;
    const c = new Conversation(sock);
    if ((await c.reply()).code !== 220) throw new EgressError('EGRESS_NETWORK', 'smtp greeting');
    let ehlo = await c.command('EHLO cloister-enclave', [250]);
    if (!target.secure) {
      if (/^250[ -]STARTTLS\b/im.test(ehlo)) {
        await c.command('STARTTLS', [220]);
        c.detach();
        c.attach(await upgrade(raw, target, opts));
        ehlo = await c.command('EHLO cloister-enclave', [250]);
      } else if (!(opts.allowPlainLocal && !opts.proxy && LOCAL.has(target.host))) {
        // Plain SMTP would show the code to every hop (and, tunnelled, to the host).
        throw new EgressError('EGRESS_REFUSED');
      }
    }
    if (target.user !== undefined) {
      const token = Buffer.from(`\0${target.user}\0${target.pass ?? ''}`).toString('base64');
      await c.command(`AUTH PLAIN ${token}`, [235]);
    }
    await c.command(`MAIL FROM:<${mail.from}>`, [250]);
    await c.command(`RCPT TO:<${mail.to}>`, [250, 251]);
    await c.command('DATA', [354]);
    const id = `${randomUUID()}@cloister`;
    await c.command(`${renderMail(mail, new Date(), id)}\r\n.`, [250]);
    c.socket.write('QUIT\r\n');
    c.socket.end();
  } catch (err) {
    // A refused or failed conversation must not leave the connection (or tunnel) open.
    raw.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

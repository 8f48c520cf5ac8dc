/** The cluster manifest (per epoch) and the keyrings wrapped under the root (migration 007). */
import { ManifestSchema, type Manifest } from '../../../protocol/cluster/cluster.js';
import type { Queryable } from '../database.js';

export type WrappedPurpose = 'credential' | 'auth' | 'wallet' | 'carry';

export function createClusterRepository(db: Queryable) {
  return {
    /** The manifest of the newest split, or null when this deployment is not a cluster. */
    /** A ready member's advertised base URL (discovery through the database). */
    async recordMember(url: string, measurement: string): Promise<void> {
      await db.query(
        `INSERT INTO cluster_members (url, measurement) VALUES ($1, $2)
         ON CONFLICT (url) DO UPDATE SET measurement = EXCLUDED.measurement, seen_at = now()`,
        [url, measurement],
      );
    },

    /** Recorded members, most recently seen first. */
    async members(): Promise<{ url: string; measurement: string; seen_at: string }[]> {
      const { rows } = await db.query<{ url: string; measurement: string; seen_at: Date }>(
        'SELECT url, measurement, seen_at FROM cluster_members ORDER BY seen_at DESC LIMIT 100',
      );
      return rows.map((r) => ({ ...r, seen_at: new Date(r.seen_at).toISOString() }));
    },

    async latestManifest(): Promise<{ manifest: Manifest; digest: string; mac: string } | null> {
      const { rows } = await db.query<{ manifest: unknown; digest: string; mac: string }>(
        'SELECT manifest, digest, mac FROM cluster_manifests ORDER BY epoch DESC LIMIT 1',
      );
      const row = rows[0];
      if (!row) return null;
      const manifest = typeof row.manifest === 'string' ? JSON.parse(row.manifest) : row.manifest;
      return { manifest: ManifestSchema.parse(manifest), digest: row.digest, mac: row.mac };
    },
    async insertManifest(
      manifest: Manifest,
      digest: string,
      mac: string,
      q: Queryable = db,
    ): Promise<void> {
      await q.query(
        'INSERT INTO cluster_manifests (epoch, cluster_id, manifest, digest, mac) VALUES ($1, $2, $3, $4, $5)',
        [manifest.epoch, manifest.cluster_id, JSON.stringify(manifest), digest, mac],
      );
    },
    async latestWrapped(purpose: WrappedPurpose): Promise<string | null> {
      const { rows } = await db.query<{ wrapped: string }>(
        'SELECT wrapped FROM cluster_keyrings WHERE purpose = $1 ORDER BY generation DESC LIMIT 1',
        [purpose],
      );
      return rows[0]?.wrapped ?? null;
    },
    async insertWrapped(
      purpose: WrappedPurpose,
      generation: number,
      wrapped: string,
      q: Queryable = db,
    ): Promise<void> {
      await q.query(
        'INSERT INTO cluster_keyrings (purpose, generation, wrapped) VALUES ($1, $2, $3)',
        [purpose, generation, wrapped],
      );
    },
  };
}
export type ClusterRepository = ReturnType<typeof createClusterRepository>;

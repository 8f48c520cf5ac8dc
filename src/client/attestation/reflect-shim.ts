/**
 * The smallest Reflect metadata API that `@peculiar/x509` needs: it resolves its algorithm
 * providers through tsyringe, which refuses to load unless `Reflect.getMetadata` exists
 * (normally supplied by the `reflect-metadata` package). Installed only where absent, so an
 * application's own polyfill always wins. Import this module before `@peculiar/x509`.
 */
type Target = object;
type MetadataKey = unknown;

interface ReflectMetadata {
  getMetadata?: (key: MetadataKey, target: Target, prop?: PropertyKey) => unknown;
  getOwnMetadata?: (key: MetadataKey, target: Target, prop?: PropertyKey) => unknown;
  defineMetadata?: (key: MetadataKey, value: unknown, target: Target, prop?: PropertyKey) => void;
}

const R = Reflect as unknown as ReflectMetadata;

if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<PropertyKey | undefined, Map<MetadataKey, unknown>>>();
  const own = (target: Target, prop: PropertyKey | undefined, create: boolean) => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let map = byProp.get(prop);
    if (!map && create) {
      map = new Map();
      byProp.set(prop, map);
    }
    return map;
  };
  R.defineMetadata = (key, value, target, prop) => {
    own(target, prop, true)!.set(key, value);
  };
  R.getOwnMetadata = (key, target, prop) => own(target, prop, false)?.get(key);
  R.getMetadata = (key, target, prop) => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const map = own(t, prop, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
}

export {};

// Validates custom resources (a JSON array on stdin) against the JSON schemas that the
// @kubernetes-models packages generate from the projects' published CRDs
// (prometheus-operator's ServiceMonitor/PrometheusRule, Gateway API's Gateway/HTTPRoute,
// Traefik's Middleware).
// Usage: node validate_crds.mjs NODE_MODULES_DIR < objects.json
// Prints one JSON line per object: {"kind", "name", "error"} (error null when valid).
import { pathToFileURL } from "node:url";
import { join } from "node:path";

// apiVersion group -> npm package of its models.
const PACKAGES = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
  "traefik.io": "@kubernetes-models/traefik",
};

async function modelFor(modules, obj) {
  const [group, version] = obj.apiVersion.split("/");
  const pkg = PACKAGES[group];
  if (!pkg) throw new Error(`no schema package for ${obj.apiVersion}`);
  const file = join(modules, pkg, group, version, `${obj.kind}.js`);
  return (await import(pathToFileURL(file).href))[obj.kind];
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
for (const obj of JSON.parse(input)) {
  let error = null;
  try {
    const Model = await modelFor(process.argv[2], obj);
    new Model(obj).validate();
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  console.log(JSON.stringify({ kind: obj.kind, name: obj.metadata.name, error }));
}

// SPDX-License-Identifier: GPL-2.0-or-later
// Checks Kubernetes manifests offline: every document against its kind's schema (Kubernetes'
// OpenAPI schemas, and the Prometheus Operator's CRDs, as kubernetes-models generates them), then
// what a schema cannot see and kubectl apply would not catch either: selectors that select
// nothing, mounts of volumes that are not there, probes and Services aimed at ports no container
// has, a ServiceMonitor that finds no Service.
//   node validate.mjs FILE...
// Prints "ok FILE: KIND NAME" or "error FILE: KIND NAME: WHAT" per document; exits 1 on any error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "apps/v1/DaemonSet": DaemonSet,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

let failed = false;
const documents = [];
for (const file of process.argv.slice(2)) {
  for (const parsed of parseAllDocuments(readFileSync(file, "utf8"))) {
    const where = `${file}: ${parsed.get("kind") ?? "?"} ${parsed.getIn(["metadata", "name"]) ?? "?"}`;
    if (parsed.errors.length) {
      report(where, parsed.errors.map((e) => e.message));
      continue;
    }
    const object = parsed.toJS();
    if (object === null) continue;
    const Model = models[`${object.apiVersion}/${object.kind}`];
    if (!Model) {
      report(where, [`no schema here for ${object.apiVersion} ${object.kind}`]);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      report(where, [error.message]);
      continue;
    }
    documents.push({ where, object });
  }
}

const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
const byKind = (kind) => documents.filter((d) => d.object.kind === kind);

for (const { where, object } of documents) {
  const problems = [];
  const namespace = object.metadata.namespace;
  if (object.kind !== "Namespace" && namespace &&
      !byKind("Namespace").some((d) => d.object.metadata.name === namespace))
    problems.push(`namespace ${namespace} is made by none of these files`);
  if (object.kind === "DaemonSet") {
    const pod = object.spec.template;
    if (!matches(object.spec.selector.matchLabels, pod.metadata?.labels))
      problems.push("its selector does not select its own pods");
    const volumes = new Set((pod.spec.volumes ?? []).map((v) => v.name));
    for (const container of pod.spec.containers) {
      const ports = new Set((container.ports ?? []).map((p) => p.name));
      for (const mount of container.volumeMounts ?? [])
        if (!volumes.has(mount.name)) problems.push(`${container.name} mounts volume ${mount.name}, which is not there`);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        const port = probe?.httpGet?.port;
        if (typeof port === "string" && !ports.has(port))
          problems.push(`${container.name}'s probe aims at port ${port}, which it does not have`);
      }
      const env = new Set((container.env ?? []).map((e) => e.name));
      for (const arg of container.args ?? [])
        for (const [, name] of arg.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
          if (!env.has(name)) problems.push(`${container.name}'s argument ${arg} names $(${name}), not in its env`);
    }
  }
  if (object.kind === "Service") {
    const pods = byKind("DaemonSet").filter((d) => d.object.metadata.namespace === namespace &&
      matches(object.spec.selector, d.object.spec.template.metadata?.labels));
    if (pods.length === 0) problems.push("its selector selects no DaemonSet's pods");
    for (const port of object.spec.ports)
      if (typeof port.targetPort === "string" &&
          !pods.some((d) => d.object.spec.template.spec.containers.some((c) =>
            (c.ports ?? []).some((p) => p.name === port.targetPort))))
        problems.push(`port ${port.name} aims at ${port.targetPort}, which no selected container has`);
  }
  if (object.kind === "ServiceMonitor") {
    const namespaces = object.spec.namespaceSelector?.matchNames ?? [namespace];
    const services = byKind("Service").filter((d) => namespaces.includes(d.object.metadata.namespace) &&
      matches(object.spec.selector.matchLabels, d.object.metadata.labels));
    if (services.length === 0) problems.push("it selects no Service");
    for (const endpoint of object.spec.endpoints)
      if (!services.some((d) => d.object.spec.ports.some((p) => p.name === endpoint.port)))
        problems.push(`endpoint port ${endpoint.port} is no selected Service's`);
  }
  if (problems.length) report(where, problems);
  else console.log(`ok ${where}`);
}
process.exit(failed ? 1 : 0);

function report(where, problems) {
  failed = true;
  for (const problem of problems) console.log(`error ${where}: ${problem}`);
}

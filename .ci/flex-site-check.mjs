#!/usr/bin/env node
// Fails when a function app on a Flex Consumption plan sets a site property or app setting that Flex Consumption
// rejects or ignores. Reads the ARM JSON that `bicep build` compiles (modules inlined as nested deployments), so it
// sees what Azure will receive, not how the Bicep happens to be written.
//
//   node .ci/flex-site-check.mjs main.json              check a compiled template
//   node .ci/flex-site-check.mjs main.json --self-test  also prove the check catches a planted violation of each kind
//
// A Microsoft.Web/sites resource of kind functionapp counts as Flex Consumption when it has
// properties.functionAppConfig (Flex only) or its serverFarmId names a FC1 / FlexConsumption plan of the same template.
// For such a site it reads properties, properties.siteConfig (and siteConfig.appSettings), and every
// Microsoft.Web/sites/config resource of the site ('web' = site config, 'appsettings' = app settings), following
// parameters('…') into the deployment that passes them, variables('…'), union(), createObject(), createArray() and if().
// Anything it cannot read there (another ARM function building the object) is a failure too: the check never passes
// by not looking. Names compare case-insensitively, as ARM and App Service compare them.
//
// Sources: "Deprecated properties and settings" and "Considerations" in
// https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan, which point to
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations, and the
// official Flex samples (Azure-Samples/functions-quickstart-dotnet-azd infra/app/api.bicep sets neither ftpsState nor
// the runtime in siteConfig). siteConfig.ftpsState: newer regions reject it on Flex sites ("site configuration
// properties … for Flex Consumption sites is invalid").
import { readFileSync } from 'node:fs';

/** Site properties (under properties or properties.siteConfig / config 'web') and where Flex Consumption moved them. */
const rejectedSiteProperties = new Map(Object.entries({
  ftpsState: 'no FTP on Flex Consumption; newer regions reject the property',
  alwaysOn: 'Flex Consumption scales to zero; keep instances warm with functionAppConfig.scaleAndConcurrency.alwaysReady',
  use32BitWorkerProcess: 'Flex Consumption runs 64-bit Linux only',
  netFrameworkVersion: 'the runtime is functionAppConfig.runtime (name, version)',
  linuxFxVersion: 'the runtime is functionAppConfig.runtime (name, version)',
  windowsFxVersion: 'the runtime is functionAppConfig.runtime (name, version)',
  javaVersion: 'the runtime is functionAppConfig.runtime (name, version)',
  powerShellVersion: 'the runtime is functionAppConfig.runtime (name, version)',
  functionAppScaleLimit: 'use functionAppConfig.scaleAndConcurrency.maximumInstanceCount',
  preWarmedInstanceCount: 'use functionAppConfig.scaleAndConcurrency.alwaysReady',
  containerSize: 'use functionAppConfig.scaleAndConcurrency.instanceMemoryMB',
}).map(([name, why]) => [name.toLowerCase(), { name, why }]));

/** App settings Flex Consumption does not use, and what replaces them. */
const rejectedAppSettings = new Map(Object.entries({
  FUNCTIONS_WORKER_RUNTIME: 'set by functionAppConfig.runtime.name',
  FUNCTIONS_WORKER_RUNTIME_VERSION: 'set by functionAppConfig.runtime.version',
  FUNCTIONS_EXTENSION_VERSION: 'set by the platform on Flex Consumption',
  WEBSITE_RUN_FROM_PACKAGE: 'Flex Consumption runs the package in functionAppConfig.deployment.storage',
  WEBSITE_CONTENTSHARE: 'Flex Consumption has no content file share',
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: 'Flex Consumption has no content file share',
  WEBSITE_CONTENTOVERVNET: 'Flex Consumption has no content file share',
  WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT: 'use functionAppConfig.scaleAndConcurrency.maximumInstanceCount',
  WEBSITE_NODE_DEFAULT_VERSION: 'the runtime is functionAppConfig.runtime',
  WEBSITE_USE_PLACEHOLDER_DOTNETISOLATED: 'not used on Flex Consumption',
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'no Kudu/Oryx build on Flex Consumption',
  ENABLE_ORYX_BUILD: 'no Kudu/Oryx build on Flex Consumption',
  WEBSITE_TIME_ZONE: 'not supported on Flex Consumption',
  TZ: 'not supported on Flex Consumption',
}).map(([name, why]) => [name.toLowerCase(), { name, why }]));

// ---------------------------------------------------------------------------------------------------------------
// ARM template expressions: just enough of the language to read object keys.

/** Parses the text inside "[...]" into a tree: {call, args, access}, {str}, {num}. */
function parseExpression(text) {
  let i = 0;
  const fail = (what) => { throw new Error(`cannot parse ARM expression at ${i} (${what}): ${text}`); };
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  function primary() {
    ws();
    if (text[i] === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") { s += "'"; i += 2; continue; }
          i++;
          break;
        }
        s += text[i++];
      }
      return { str: s };
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num) { i += num[0].length; return { num: Number(num[0]) }; }
    const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (!ident) fail('expected a value');
    i += ident[0].length;
    ws();
    if (text[i] !== '(') fail('expected (');
    i++;
    const args = [];
    ws();
    if (text[i] === ')') { i++; } else {
      for (;;) {
        args.push(postfix());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ')') { i++; break; }
        fail('expected , or )');
      }
    }
    return { call: ident[0].toLowerCase(), args };
  }
  function postfix() {
    let node = primary();
    for (;;) {
      ws();
      if (text[i] === '.') {
        i++;
        const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i));
        if (!m) fail('expected a property name');
        i += m[0].length;
        node = { access: node, key: { str: m[0] } };
      } else if (text[i] === '[') {
        i++;
        const key = postfix();
        ws();
        if (text[i] !== ']') fail('expected ]');
        i++;
        node = { access: node, key };
      } else {
        return node;
      }
    }
  }
  const tree = postfix();
  ws();
  if (i !== text.length) fail('trailing text');
  return tree;
}

const isExpression = (v) => typeof v === 'string' && v.startsWith('[') && !v.startsWith('[[') && v.endsWith(']');

/**
 * A scope is one template as deployed: its variables, its parameters' defaults, and the values its parent passes.
 * Values evaluate to a JSON-like shape: objects/arrays/strings as in JSON, or {unknown: reason}.
 */
class Scope {
  constructor(template, passed, parent, path) {
    this.template = template;
    this.passed = passed ?? {};
    this.parent = parent;
    this.path = path;
  }

  value(v) {
    if (isExpression(v)) return this.expr(parseExpression(v.slice(1, -1)));
    if (typeof v === 'string' && v.startsWith('[[')) return v.slice(1);
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v && typeof v === 'object') {
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        if (isExpression(k)) return { unknown: `an object key computed by ${k}` };
        out[k] = this.value(x);
      }
      return out;
    }
    return v;
  }

  expr(node) {
    if ('str' in node) return node.str;
    if ('num' in node) return node.num;
    if ('access' in node) {
      const target = this.expr(node.access);
      const key = this.expr(node.key);
      if (target && typeof target === 'object' && !('unknown' in target) && (typeof key === 'string' || typeof key === 'number')) {
        return key in target ? target[key] : { unknown: `missing member ${key}` };
      }
      return { unknown: 'a member of a runtime value' };
    }
    const args = node.args;
    switch (node.call) {
      case 'parameters': return this.parameter(this.expr(args[0]));
      case 'variables': return this.variable(this.expr(args[0]));
      case 'createobject': {
        const out = {};
        for (let k = 0; k + 1 < args.length; k += 2) {
          const key = this.expr(args[k]);
          if (typeof key !== 'string') return { unknown: 'createObject with a computed key' };
          out[key] = this.expr(args[k + 1]);
        }
        return out;
      }
      case 'createarray': return args.map((a) => this.expr(a));
      case 'union': {
        const parts = args.map((a) => this.expr(a));
        const bad = parts.find((p) => !p || typeof p !== 'object' || 'unknown' in p);
        if (bad) return { unknown: `union of ${bad && bad.unknown ? bad.unknown : 'a non-object'}` };
        if (parts.every(Array.isArray)) return parts.flat();
        return Object.assign({}, ...parts);
      }
      case 'if': {
        // Both branches may deploy: take everything either could produce.
        const a = this.expr(args[1]);
        const b = this.expr(args[2]);
        if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
        if (isObject(a) && isObject(b)) return { ...b, ...a };
        if (isObject(a) && isEmptyish(b)) return a;
        if (isObject(b) && isEmptyish(a)) return b;
        return { unknown: 'if() with branches of different kinds' };
      }
      case 'concat': {
        const parts = args.map((a) => this.expr(a));
        if (parts.every(Array.isArray)) return parts.flat();
        return { unknown: 'concat() of non-arrays' };
      }
      case 'json': {
        const s = this.expr(args[0]);
        return s === 'null' ? null : { unknown: 'json()' };
      }
      case 'null': return null;
      case 'true': return true;
      case 'false': return false;
      default: return { unknown: `${node.call}()` };
    }
  }

  parameter(name) {
    if (typeof name !== 'string') return { unknown: 'parameters() with a computed name' };
    if (name in this.passed) {
      const passed = this.passed[name];
      if (passed && 'reference' in passed) return { unknown: `parameter ${name} comes from a Key Vault reference` };
      return this.parent ? this.parent.value(passed.value) : this.value(passed.value);
    }
    const declared = this.template.parameters?.[name];
    if (declared && 'defaultValue' in declared) return this.value(declared.defaultValue);
    return { unknown: `parameter ${name} has no value in the template (given at deployment)` };
  }

  variable(name) {
    const vars = this.template.variables ?? {};
    if (typeof name !== 'string' || !(name in vars)) return { unknown: `variable ${name}` };
    return this.value(vars[name]);
  }
}

const isObject = (v) => v && typeof v === 'object' && !Array.isArray(v) && !('unknown' in v);
const isEmptyish = (v) => v === null || (isObject(v) && Object.keys(v).length === 0);

// ---------------------------------------------------------------------------------------------------------------

const resourcesOf = (template) => {
  const r = template.resources ?? [];
  return Array.isArray(r) ? r : Object.values(r);
};

/** Every template in the file with the scope to evaluate it: the root and each inline nested deployment. */
function* templates(template, scope) {
  yield { template, scope };
  for (const r of resourcesOf(template)) {
    if (r.type?.toLowerCase() === 'microsoft.resources/deployments' && r.properties?.template) {
      const path = `${scope.path} > ${r.name}`;
      const inner = r.properties.expressionEvaluationOptions?.scope?.toLowerCase() === 'inner';
      // Inner scope (what Bicep emits): parameters come from the values this deployment passes, evaluated in the
      // enclosing scope. Outer scope: the nested template sees the enclosing template's parameters and variables.
      const child = inner
        ? new Scope(r.properties.template, r.properties.parameters, scope, path)
        : new Scope({ ...r.properties.template, parameters: scope.template.parameters, variables: scope.template.variables },
          scope.passed, scope.parent, path);
      yield* templates(r.properties.template, child);
    }
  }
}

/** Renders a parsed expression back to text in one canonical form, to compare names and references. */
function render(n) {
  if ('str' in n) return `'${n.str.replace(/'/g, "''")}'`;
  if ('num' in n) return String(n.num);
  if ('access' in n) return `${render(n.access)}${'str' in n.key ? `.${n.key.str}` : `[${render(n.key)}]`}`;
  return `${n.call}(${n.args.map(render).join(',')})`;
}

/** A resource name or id as comparable text: an expression in canonical form, a literal as itself. */
const canon = (v) => (isExpression(v) ? render(parseExpression(v.slice(1, -1))) : String(v));

function isFlexPlan(resource) {
  const sku = resource.sku ?? {};
  return resource.type?.toLowerCase() === 'microsoft.web/serverfarms'
    && (String(sku.tier).toLowerCase() === 'flexconsumption' || String(sku.name).toUpperCase() === 'FC1');
}

/** The sites/config resources of a site: matched by the parent part of the config's name, or the template's only site. */
function configsOf(site, resources, siteCount) {
  const siteName = canon(site.name);
  return resources.filter((r) => r.type?.toLowerCase() === 'microsoft.web/sites/config').map((r) => {
    let owner = null;
    let configName = null;
    if (isExpression(r.name)) {
      const tree = parseExpression(r.name.slice(1, -1));
      if (tree.call === 'format' && tree.args.length === 3 && tree.args[0].str === '{0}/{1}') {
        owner = 'str' in tree.args[1] ? tree.args[1].str : render(tree.args[1]);
        configName = tree.args[2].str ?? null;
      }
    } else if (typeof r.name === 'string' && r.name.includes('/')) {
      [owner, configName] = r.name.split('/');
    }
    const belongs = owner === siteName || siteCount === 1;
    return belongs ? { resource: r, configName } : null;
  }).filter(Boolean);
}

function checkTemplate(root) {
  const problems = [];
  let flexSites = 0;
  for (const { template, scope } of templates(root, new Scope(root, {}, null, 'main'))) {
    const resources = resourcesOf(template);
    const flexPlans = resources.filter(isFlexPlan).map((p) => canon(p.name));
    const sites = resources.filter((r) => r.type?.toLowerCase() === 'microsoft.web/sites');
    for (const site of sites) {
      if (!String(site.kind ?? '').toLowerCase().includes('functionapp')) continue;
      const farm = canon(site.properties?.serverFarmId ?? '');
      const onFlexPlan = flexPlans.some((plan) => farm.includes(plan));
      if (!site.properties?.functionAppConfig && !onFlexPlan) continue;
      flexSites++;
      const where = `${scope.path}: site ${site.name}`;
      const checkSiteProps = (shape, label) => {
        if (shape === undefined || shape === null) return;
        if (!isObject(shape)) {
          problems.push(`${where}: cannot read ${label} (${shape?.unknown ?? typeof shape}); build it from object literals, parameters, variables or union()`);
          return;
        }
        for (const key of Object.keys(shape)) {
          const hit = rejectedSiteProperties.get(key.toLowerCase());
          if (hit) problems.push(`${where}: ${label}.${key} is not supported on Flex Consumption: ${hit.why}`);
        }
        if ('appSettings' in shape) checkAppSettingsArray(shape.appSettings, `${label}.appSettings`);
      };
      const checkAppSettingNames = (names, label) => {
        for (const name of names) {
          const hit = rejectedAppSettings.get(String(name).toLowerCase());
          if (hit) problems.push(`${where}: app setting ${name} (${label}) is not supported on Flex Consumption: ${hit.why}`);
        }
      };
      const checkAppSettingsArray = (shape, label) => {
        if (!Array.isArray(shape)) {
          problems.push(`${where}: cannot read ${label} (${shape?.unknown ?? typeof shape})`);
          return;
        }
        const names = shape.map((item) => (isObject(item) ? item.name : undefined));
        if (names.some((n) => typeof n !== 'string')) problems.push(`${where}: cannot read every name in ${label}`);
        checkAppSettingNames(names.filter((n) => typeof n === 'string'), label);
      };

      const properties = scope.value(site.properties ?? {});
      if (!isObject(properties)) {
        problems.push(`${where}: cannot read properties (${properties?.unknown})`);
        continue;
      }
      for (const key of Object.keys(properties)) {
        const hit = rejectedSiteProperties.get(key.toLowerCase());
        if (hit) problems.push(`${where}: properties.${key} is not supported on Flex Consumption: ${hit.why}`);
      }
      checkSiteProps(properties.siteConfig, 'siteConfig');

      for (const { resource, configName } of configsOf(site, resources, sites.length)) {
        const label = `config '${configName ?? resource.name}'`;
        if (configName === 'web') {
          checkSiteProps(scope.value(resource.properties ?? {}), label);
        } else if (configName === 'appsettings') {
          const settings = scope.value(resource.properties ?? {});
          if (!isObject(settings)) {
            problems.push(`${where}: cannot read the app setting names of ${label} (${settings?.unknown})`);
          } else {
            checkAppSettingNames(Object.keys(settings), label);
          }
        } else if (configName === null) {
          problems.push(`${where}: cannot tell which config ${resource.name} is`);
        }
      }
    }
  }
  return { problems, flexSites };
}

// ---------------------------------------------------------------------------------------------------------------

function run(template) {
  const { problems, flexSites } = checkTemplate(template);
  if (flexSites === 0) problems.push('found no function app on a Flex Consumption plan: the check would prove nothing (did the hosting change?)');
  return { problems, flexSites };
}

/** Plants one violation of each kind in a copy of the template and requires the check to report it. */
function selfTest(template) {
  const failures = [];
  const plant = (label, mutate, expected) => {
    const copy = structuredClone(template);
    let planted = 0;
    for (const { template: t } of templates(copy, new Scope(copy, {}, null, 'main'))) {
      const resources = resourcesOf(t);
      for (const site of resources.filter((r) => r.type?.toLowerCase() === 'microsoft.web/sites' && r.properties?.functionAppConfig)) {
        planted += mutate(site, resources, t) ? 1 : 0;
      }
    }
    const { problems } = run(copy);
    if (planted === 0) failures.push(`${label}: found nowhere to plant it`);
    else if (!problems.some((p) => p.includes(expected))) failures.push(`${label}: not reported (got: ${problems.join(' | ') || 'nothing'})`);
  };
  plant('siteConfig.ftpsState', (site) => {
    site.properties.siteConfig = { ...(site.properties.siteConfig ?? {}), ftpsState: 'Disabled' };
    return true;
  }, 'siteConfig.ftpsState');
  plant('siteConfig.alwaysOn (in a variable)', (site, resources, t) => {
    t.variables = { ...(t.variables ?? {}), plantedSiteConfig: { alwaysOn: false } };
    site.properties.siteConfig = "[variables('plantedSiteConfig')]";
    return true;
  }, 'siteConfig.alwaysOn');
  plant('app setting WEBSITE_RUN_FROM_PACKAGE', (site, resources) => {
    const config = resources.find((r) => r.type?.toLowerCase() === 'microsoft.web/sites/config' && String(r.name).includes("'appsettings'"));
    if (!config) return false;
    const props = config.properties;
    config.properties = isExpression(props)
      ? `[union(${props.slice(1, -1)}, createObject('WEBSITE_RUN_FROM_PACKAGE', '1'))]`
      : { ...props, WEBSITE_RUN_FROM_PACKAGE: '1' };
    return true;
  }, 'WEBSITE_RUN_FROM_PACKAGE');
  plant('siteConfig.appSettings FUNCTIONS_WORKER_RUNTIME', (site) => {
    site.properties.siteConfig = { appSettings: [{ name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }] };
    return true;
  }, 'FUNCTIONS_WORKER_RUNTIME');
  plant('an unreadable siteConfig', (site) => {
    site.properties.siteConfig = "[json(parameters('planted'))]";
    return true;
  }, 'cannot read siteConfig');
  return failures;
}

const [file, flag] = process.argv.slice(2);
if (!file) {
  console.error('usage: node .ci/flex-site-check.mjs <compiled main.json> [--self-test]');
  process.exit(2);
}
const template = JSON.parse(readFileSync(file, 'utf8'));
const { problems, flexSites } = run(template);
for (const p of problems) console.error(p);
if (flag === '--self-test') {
  for (const f of selfTest(template)) {
    console.error(`self-test: ${f}`);
    problems.push(f);
  }
}
if (problems.length > 0) process.exit(1);
console.log(`flex-site-check: ${flexSites} Flex Consumption site(s), no rejected site properties or app settings${flag === '--self-test' ? '; self-test caught every planted violation' : ''}`);

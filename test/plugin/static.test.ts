/**
 * Static checks of the plugin tree: forms against the model, the ACL against the controllers'
 * routes, the URLs the page and the widget call, configd actions as configd loads them (ours and
 * the ones `install` writes, side by side), xmllint and php -l on every file, and the rules of
 * opnsense/plugins' `make lint` (Mk/lint.mk, read from the tarball) that run without FreeBSD.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { renderConfigdActions } from "../../src/install/templates.ts";
import { MODEL_XML, MVC, PHP_DIR, PLUGIN_DIR, PLUGIN_SRC, run, scratchDir, testEnv } from "./testenv.ts";
import { child, childText, descendants, readXml, type XmlNode } from "./xml.ts";

const env = testEnv();
const MODULE = "carpservicestatus";
const CONTROLLERS = join(MVC, "controllers/OPNsense/CarpServiceStatus");
const FORMS = join(CONTROLLERS, "forms");
const MODEL_DIR = join(MVC, "models/OPNsense/CarpServiceStatus");
const VIEW = join(MVC, "views/OPNsense/CarpServiceStatus/index.volt");
const WIDGET = join(PLUGIN_SRC, "opnsense/www/js/widgets/CarpServiceStatus.js");
const WIDGET_METADATA = join(PLUGIN_SRC, "opnsense/www/js/widgets/Metadata/CarpServiceStatus.xml");
const ACTIONS = join(PLUGIN_SRC, "opnsense/service/conf/actions.d/actions_carpservicestatus.conf");
const PLUGINS_INC = join(PLUGIN_SRC, "etc/inc/plugins.inc.d/carpservicestatus.inc");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile())
    .sort();
}

const ALL_FILES = filesUnder(PLUGIN_SRC);

// --- the model's fields -------------------------------------------------------------------------

const ITEMS = child(readXml(MODEL_XML), "items")!;

/** Leaf fields of a container (type set, not an ArrayField), by name. */
function leaves(container: XmlNode): Map<string, XmlNode> {
  return new Map(container.children.filter((node) => node.attrs.type && node.attrs.type !== "ArrayField").map((node) => [node.tag, node]));
}

const ARRAY_FIELDS = {
  hook: child(child(ITEMS, "hooks")!, "hook")!,
  gateway: child(child(ITEMS, "gateways")!, "gateway")!,
  variable: child(child(ITEMS, "hookEnv")!, "variable")!,
};

/** The form types that edit each field type. */
const FORM_TYPES: Record<string, string[]> = {
  BooleanField: ["checkbox"],
  OptionField: ["dropdown", "select_multiple"],
  IntegerField: ["text"],
  TextField: ["text", "textbox"],
  DescriptionField: ["text"],
};

function formFields(file: string): { id: string; type: string }[] {
  return readXml(join(FORMS, file))
    .children.filter((node) => childText(node, "type") !== "header")
    .map((node) => ({ id: childText(node, "id") ?? "", type: childText(node, "type") ?? "" }));
}

describe("forms and the model", () => {
  const cases: [string, string, Map<string, XmlNode>][] = [
    ["settings.xml", MODULE, leaves(ITEMS)],
    ["dialogHook.xml", "hook", leaves(ARRAY_FIELDS.hook)],
    ["dialogGateway.xml", "gateway", leaves(ARRAY_FIELDS.gateway)],
    ["dialogVariable.xml", "variable", leaves(ARRAY_FIELDS.variable)],
  ];
  for (const [file, prefix, fields] of cases) {
    test(`${file} edits every field of ${prefix} once, with a matching input`, () => {
      const form = formFields(file);
      expect(form.map(({ id }) => id).sort()).toEqual([...fields.keys()].map((name) => `${prefix}.${name}`).sort());
      for (const { id, type } of form) {
        const node = fields.get(id.slice(prefix.length + 1))!;
        const fieldType = node.attrs.type!;
        expect(FORM_TYPES[fieldType], `${id} (${fieldType})`).toContain(type);
        // A multiple choice needs a multiple select, and a single one a dropdown.
        if (fieldType === "OptionField") expect(type === "select_multiple", id).toBe(childText(node, "Multiple") === "Y");
      }
    });
  }

  test("the settings controller serves the dialogs' prefixes from their ArrayFields", () => {
    const source = readFileSync(join(CONTROLLERS, "Api/SettingsController.php"), "utf8");
    expect(source).toContain(`protected static $internalModelName = '${MODULE}';`);
    for (const [prefix, path] of [
      ["hook", "hooks.hook"],
      ["gateway", "gateways.gateway"],
      ["variable", "hookEnv.variable"],
    ]) {
      expect(source).toContain(`$this->getBase('${prefix}', '${path}', $uuid)`);
      expect(source).toContain(`$this->setBase('${prefix}', '${path}', $uuid)`);
      expect(source).toContain(`$this->addBase('${prefix}', '${path}')`);
    }
  });
});

// --- routes and the ACL -------------------------------------------------------------------------

/** `fooBarAction` -> `foo_bar`, as OPNsense's router maps URLs to actions. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function publicActions(source: string): string[] {
  return [...source.matchAll(/public function (\w+)Action\s*\(/g)].map((match) => snake(match[1]!));
}

/** Public actions of a controller and of the core base classes it extends. */
function controllerActions(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const parent = source.match(/class \w+ extends \\?(?:OPNsense\\Base\\)?(\w+)/)?.[1];
  const actions = publicActions(source);
  const base = join(env.core, "src/opnsense/mvc/app/controllers/OPNsense/Base", `${parent}.php`);
  if (parent && parent !== "IndexController" && existsSync(base)) actions.push(...controllerActions(base));
  return actions;
}

function routes(): string[] {
  const result = [`ui/${MODULE}`, `ui/${MODULE}/index`];
  for (const file of readdirSync(join(CONTROLLERS, "Api"))) {
    const controller = snake(basename(file, "Controller.php")).replace(/^_/, "");
    for (const action of controllerActions(join(CONTROLLERS, "Api", file))) result.push(`api/${MODULE}/${controller}/${action}`);
  }
  return [...new Set(result)].sort();
}

const ROUTES = routes();

interface AclEntry {
  id: string;
  patterns: string[];
}

const ACL: AclEntry[] = readXml(join(MODEL_DIR, "ACL/ACL.xml")).children.map((node) => ({
  id: node.tag,
  patterns: child(node, "patterns")!.children.map((pattern) => pattern.text),
}));

/** OPNsense's ACL test: a pattern ending in `*` matches by prefix, any other the exact page. */
function aclMatches(pattern: string, url: string): boolean {
  const path = url.replace(/^\//, "").replace(/\/$/, "");
  if (pattern.endsWith("*")) return `${path}/`.startsWith(pattern.slice(0, -1)) || path.startsWith(pattern.slice(0, -1));
  return path === pattern;
}

function urlsIn(text: string): string[] {
  return [
    ...new Set([...text.matchAll(/['"](\/(?:api|ui)\/carpservicestatus\/[a-z_/]*)['"]/g)].map((match) => match[1]!.replace(/\/$/, ""))),
  ];
}

describe("routes and the ACL", () => {
  test("the controllers have the routes the page needs", () => {
    const expected = [
      "settings/get",
      "settings/set",
      ...["search", "get", "add", "set", "del", "toggle"].map((verb) => `settings/${verb}_hook`),
      ...["search", "get", "add", "set", "del", "toggle"].map((verb) => `settings/${verb}_gateway`),
      ...["search", "get", "add", "set", "del"].map((verb) => `settings/${verb}_variable`),
      ...["start", "stop", "restart", "status", "reconfigure", "daemon_status", "evaluate", "hooks", "gateways", "configtest"].map(
        (verb) => `service/${verb}`,
      ),
    ];
    for (const route of expected) expect(ROUTES).toContain(`api/${MODULE}/${route}`);
  });

  test("every route is covered by an ACL entry, and every pattern covers a route", () => {
    for (const route of ROUTES)
      expect(
        ACL.some(({ patterns }) => patterns.some((pattern) => aclMatches(pattern, route))),
        route,
      ).toBe(true);
    for (const { patterns } of ACL) {
      for (const pattern of patterns)
        expect(
          ROUTES.some((route) => aclMatches(pattern, route)),
          pattern,
        ).toBe(true);
    }
  });

  test("the read-only ACL entry grants the status and nothing that changes anything", () => {
    const readOnly = ACL.find(({ id }) => id.endsWith("-status"))!;
    const granted = ROUTES.filter((route) => readOnly.patterns.some((pattern) => aclMatches(pattern, route)));
    expect(granted).toEqual([`api/${MODULE}/service/daemon_status`, `api/${MODULE}/service/status`]);
  });

  test("every URL the page and the widget call is a route", () => {
    const urls = [...urlsIn(readFileSync(VIEW, "utf8")), ...urlsIn(readFileSync(WIDGET, "utf8"))];
    expect(urls.length).toBeGreaterThan(10);
    for (const url of urls) expect(ROUTES, url).toContain(url.replace(/^\//, "").replace(/\/$/, ""));
  });

  test("the menu entry and the widget's endpoints and link are granted by the ACL (lint-acl)", () => {
    const metadata = readXml(WIDGET_METADATA).children[0]!;
    const endpoints = child(metadata, "endpoints")!.children.map((node) => node.text);
    const menuUrls = descendants(readXml(join(MODEL_DIR, "Menu/Menu.xml")))
      .map((node) => node.attrs.url)
      .filter((url): url is string => url?.startsWith(`/ui/${MODULE}`) ?? false);
    expect(menuUrls.length).toBe(1);
    for (const url of [...endpoints, childText(metadata, "link")!, ...menuUrls]) {
      expect(
        ACL.some(({ patterns }) => patterns.some((pattern) => aclMatches(pattern, url))),
        url,
      ).toBe(true);
    }
    expect(childText(metadata, "filename")).toBe(basename(WIDGET));
  });
});

// --- configd ------------------------------------------------------------------------------------

/** Loads action files with configd's own ActionHandler; reports every action and every error it logged. */
const LOAD_ACTIONS = `
import json, sys
sys.path.insert(0, sys.argv[1])
import modules.processhandler as ph
errors = []
ph.syslog_error = lambda message: errors.append(message)
handler = ph.ActionHandler(config_path=sys.argv[2])
actions = handler.list_actions(['command', 'type'])
print(json.dumps({'actions': actions, 'errors': errors}))
`;

describe("configd actions", () => {
  test("ours and the ones install writes load side by side, without a duplicate", async () => {
    const scratch = scratchDir("carp-configd-");
    try {
      const confDir = join(scratch.dir, "conf");
      await Bun.write(join(confDir, "actions.d/actions_carp_service_status.conf"), renderConfigdActions());
      await Bun.write(join(confDir, "actions.d/actions_carpservicestatus.conf"), readFileSync(ACTIONS));
      const result = await run([env.python, "-c", LOAD_ACTIONS, join(env.core, "src/opnsense/service"), confDir]);
      expect(result.stderr).toBe("");
      const { actions, errors } = JSON.parse(result.stdout) as { actions: Record<string, { command: string }>; errors: string[] };
      expect(errors).toEqual([]);
      // install's actions keep working unchanged...
      expect(actions["carp_service_status evaluate"]?.command).toBe("/usr/local/bin/carp-service-status configd evaluate");
      expect(actions["carp_service_status status"]?.command).toBe("/usr/local/bin/carp-service-status configd status");
      // ...and every action the plugin calls (controllers, plugins.inc.d) resolves in its own namespace.
      const called = [CONTROLLERS, PLUGINS_INC]
        .flatMap((path) => (statSync(path).isDirectory() ? filesUnder(path) : [path]))
        .flatMap((file) => [...readFileSync(file, "utf8").matchAll(/['"](carpservicestatus [a-z_]+)['"]/g)].map((match) => match[1]!));
      const serviceActions = ["start", "stop", "restart", "status", "reconfigure"].filter((verb) => verb !== "reconfigure");
      for (const action of [...new Set([...called, ...serviceActions.map((verb) => `carpservicestatus ${verb}`)])]) {
        expect(Object.keys(actions), action).toContain(action);
      }
      expect(called.length).toBeGreaterThanOrEqual(7);
    } finally {
      scratch.remove();
    }
  });

  test("the hooks action lists the configured directory's files, dotfiles left out", async () => {
    const scratch = scratchDir("carp-list-hooks-");
    try {
      const hooks = join(scratch.dir, 'hooks "q" é');
      await Bun.write(join(hooks, "frr_ospf"), "#!/bin/sh\nexit 0\n");
      await Bun.write(join(hooks, "not executable"), "");
      await Bun.write(join(hooks, ".hidden"), "");
      await run(["chmod", "755", join(hooks, "frr_ospf")]);
      const config = join(scratch.dir, "config.xml");
      const escaped = hooks.replace(/&/g, "&amp;").replace(/</g, "&lt;");
      await Bun.write(
        config,
        `<?xml version="1.0"?>\n<opnsense><OPNsense><CarpServiceStatus><hooksDir>${escaped}</hooksDir></CarpServiceStatus></OPNsense></opnsense>\n`,
      );
      const script = join(PLUGIN_SRC, "opnsense/scripts/CarpServiceStatus/list_hooks.php");
      const result = await run([env.php, script, config]);
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout)).toEqual({
        hooksDir: hooks,
        exists: true,
        error: null,
        hooks: [
          { name: "frr_ospf", type: "file", executable: true },
          { name: "not executable", type: "file", executable: false },
        ],
      });
      const missing = await run([env.php, script, join(scratch.dir, "no-config.xml")]);
      expect(JSON.parse(missing.stdout).hooksDir).toBe("/usr/local/etc/rc.carp_service_status.d");
    } finally {
      scratch.remove();
    }
  });
});

// --- make lint ----------------------------------------------------------------------------------

describe("make lint (Mk/lint.mk rules that run here)", () => {
  test("lint-xml: xmllint accepts every XML file", async () => {
    const xmlFiles = ALL_FILES.filter((file) => /\.xml/.test(basename(file)));
    expect(xmlFiles.length).toBeGreaterThanOrEqual(7);
    const result = await run([env.xmllint, "--noout", ...xmlFiles]);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("lint-php: php -l accepts every PHP file (the plugin's and the tests')", async () => {
    const phpFiles = [...ALL_FILES, ...filesUnder(PHP_DIR)].filter(
      (file) => /\.(php|inc)$/.test(file) || readFileSync(file, "utf8").startsWith("#!/usr/local/bin/php"),
    );
    expect(phpFiles.length).toBeGreaterThanOrEqual(10);
    for (const file of phpFiles) {
      const result = await run([env.php, "-l", file]);
      expect(result.stdout, relative(PLUGIN_DIR, file)).toContain("No syntax errors detected");
    }
  });

  test("lint-desc: pkg-descr exists, and the Makefile sets what plugins.mk requires", () => {
    expect(statSync(join(PLUGIN_DIR, "pkg-descr")).size).toBeGreaterThan(0);
    const makefile = readFileSync(join(PLUGIN_DIR, "Makefile"), "utf8");
    for (const variable of ["PLUGIN_NAME", "PLUGIN_VERSION", "PLUGIN_COMMENT", "PLUGIN_DEPENDS"]) {
      expect(makefile).toMatch(new RegExp(`^${variable}=\\t+\\S`, "m"));
    }
    expect(makefile).toContain('.include "../../Mk/plugins.mk"');
  });

  test("lint-exec: scripts are executable, and no PHP runs a shell but through core's Shell", () => {
    const scripts = ALL_FILES.filter((file) => /\/src\/(etc\/rc\.d|etc\/rc\.syshook\.d|opnsense\/scripts\/[^/]+)\//.test(file));
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) expect(statSync(file).mode & 0o111, relative(PLUGIN_DIR, file)).toBe(0o111);
    // lint.mk's git grep, as regular expressions.
    const forbidden = [/[^li][^w>:]exec\(/, /^exec\(/m, /shell_exec\(/, /[^f]passthru\(/, /^passthru\(/m, /[^._a-z]system\(/, /^system\(/m];
    for (const file of ALL_FILES.filter((path) => !/\.(js|py)$/.test(path))) {
      for (const pattern of forbidden) expect(readFileSync(file, "utf8"), `${relative(PLUGIN_DIR, file)}: ${pattern}`).not.toMatch(pattern);
    }
  });

  test("lint-shell: shell scripts have a shebang and parse", async () => {
    for (const file of ALL_FILES.filter((path) => path.endsWith(".sh"))) {
      expect(readFileSync(file, "utf8")).toMatch(/^#!\//);
      expect((await run(["sh", "-n", file])).exitCode).toBe(0);
    }
  });

  test("lint-model: every xpath rule of core's lint.mk finds nothing in the model", async () => {
    const lintMk = readFileSync(join(env.core, "Mk/lint.mk"), "utf8");
    const section = lintMk.slice(lintMk.indexOf("lint-model:"), lintMk.indexOf("lint-acl:"));
    const types =
      section
        .match(/for TYPE in ([^;]+);/)?.[1]
        ?.trim()
        .split(/\s+/) ?? [];
    const rules: string[] = [];
    for (const match of section.matchAll(/--xpath '((?:[^']|'\$\$\{TYPE\}')+)'/g)) {
      const xpath = match[1]!;
      if (xpath === "/model/description") continue; // the single-line rule, below
      if (xpath.includes("'$${TYPE}'")) {
        for (const type of types) rules.push(xpath.replaceAll("'$${TYPE}'", `"${type.replaceAll("\\\\", "\\")}"`));
      } else {
        rules.push(xpath);
      }
    }
    expect(rules.length).toBeGreaterThanOrEqual(20);
    for (const xpath of rules) {
      const result = await run([env.xmllint, MODEL_XML, "--xpath", xpath]);
      expect(
        result.stdout.split("\n").filter((line) => line.startsWith("<")),
        xpath,
      ).toEqual([]);
    }
    const description = await run([env.xmllint, MODEL_XML, "--xpath", "/model/description"]);
    expect(description.stdout.trim().split("\n")).toHaveLength(1);
    // "<ValidationMessage>[a-z ]": messages start with an uppercase letter.
    expect(readFileSync(MODEL_XML, "utf8")).not.toMatch(/<ValidationMessage>[a-z ]/);
  });

  test("lint-class: every PHP class sits in the file and namespace its name says", () => {
    for (const file of ALL_FILES.filter((path) => path.endsWith(".php") && path.includes("/mvc/"))) {
      const source = readFileSync(file, "utf8");
      const className = source.match(/^(?:abstract |final )?class (\w+)/m)?.[1];
      expect(className, relative(PLUGIN_DIR, file)).toBe(basename(file, ".php"));
      const namespace = source.match(/^namespace ([\w\\]+);/m)?.[1];
      const expected = relative(join(PLUGIN_SRC, "opnsense/mvc"), file)
        .replace(/^app\/(models|controllers|library)\//, "")
        .replace(/^tests\/app\/(models|controllers|library)\//, "tests/")
        .split("/")
        .slice(0, -1)
        .join("\\");
      expect(namespace, relative(PLUGIN_DIR, file)).toBe(expected);
    }
  });

  test("lint-import: every class a PHP file imports is used in it", () => {
    for (const file of ALL_FILES.filter((path) => /\.(php|inc)$/.test(path))) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/^use ([\w\\]+);/gm)) {
        const short = match[1]!.split("\\").pop()!;
        const uses = source.split(new RegExp(`\\b${short}\\b`)).length - 1;
        expect(uses, `${relative(PLUGIN_DIR, file)}: ${match[1]}`).toBeGreaterThan(1);
      }
    }
  });
});

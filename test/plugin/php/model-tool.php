<?php

/*
 * The plugin's model driven from the Bun tests, through core's real MVC code (bootstrap.php):
 *
 *   php model-tool.php write SPEC.json   config.xml written through the model (validated first)
 *   php model-tool.php dump              the model's values as read back from config.xml
 *   php model-tool.php import TOML EXE [RCCONF]
 *                                        the one-time import (migration M1_0_0) into an empty config
 *
 * SPEC: {"settings": {FIELD: VALUE}, "hookEnv": [{"name", "value"}],
 *        "hooks": [{"name", "enabled", "fall", "rise", "timeoutMs", "description"}],
 *        "gateways": [{"name", "enabled", "failOn", "fall", "rise", "description"}]}
 * config.xml lives in CARP_PHP_SCRATCH. Prints one JSON object: {"ok", "errors", "values", "log"}.
 */

require_once __DIR__ . '/bootstrap.php';

use OPNsense\CarpServiceStatus\CarpServiceStatus;
use OPNsense\CarpServiceStatus\Migrations\M1_0_0;
use OPNsense\Core\Config;
use OPNsense\Core\Syslog;

function fresh_config()
{
    $file = getenv('CARP_PHP_SCRATCH') . '/config.xml';
    file_put_contents($file, "<?xml version=\"1.0\"?>\n<opnsense>\n</opnsense>\n");
    Config::getInstance()->forceReload();
}

/** Leaf values of a container, in model order; ArrayFields as lists of their items. */
function values_of($node)
{
    $result = [];
    foreach ($node->iterateItems() as $key => $child) {
        if (is_a($child, 'OPNsense\Base\FieldTypes\ArrayField')) {
            $items = [];
            foreach ($child->iterateItems() as $item) {
                $items[] = values_of($item);
            }
            $result[$key] = $items;
        } elseif ($child->isContainer()) {
            $result[$key] = values_of($child);
        } else {
            $result[$key] = $child->getValue();
        }
    }
    return $result;
}

function errors_of($model)
{
    $errors = [];
    foreach ($model->performValidation(true) as $message) {
        $errors[] = ['field' => $message->getField(), 'message' => $message->getMessage()];
    }
    return $errors;
}

function write_spec($spec)
{
    fresh_config();
    // As on a firewall: the package's migrations ran before anyone saved settings (with no TOML
    // to import here).
    M1_0_0::$tomlFile = getenv('CARP_PHP_SCRATCH') . '/no-such.toml';
    M1_0_0::$rcConfFile = getenv('CARP_PHP_SCRATCH') . '/no-such-rc.conf';
    (new CarpServiceStatus())->runMigrations();
    $model = new CarpServiceStatus();
    foreach ($spec['settings'] ?? [] as $key => $value) {
        $model->$key = (string)$value;
    }
    foreach ($spec['hookEnv'] ?? [] as $entry) {
        $node = $model->hookEnv->variable->Add();
        foreach ($entry as $key => $value) {
            $node->$key = (string)$value;
        }
    }
    foreach ($spec['hooks'] ?? [] as $entry) {
        $node = $model->hooks->hook->Add();
        foreach ($entry as $key => $value) {
            $node->$key = (string)$value;
        }
    }
    foreach ($spec['gateways'] ?? [] as $entry) {
        $node = $model->gateways->gateway->Add();
        foreach ($entry as $key => $value) {
            $node->$key = (string)$value;
        }
    }
    $errors = errors_of($model);
    if (count($errors) === 0) {
        $model->serializeToConfig();
        Config::getInstance()->save();
    }
    return ['ok' => count($errors) === 0, 'errors' => $errors];
}

Syslog::enableLocalEcho();
ob_start();
$command = $argv[1] ?? '';
switch ($command) {
    case 'write':
        $result = write_spec(json_decode(file_get_contents($argv[2]), true));
        break;
    case 'dump':
        Config::getInstance()->forceReload();
        $result = ['ok' => true, 'errors' => []];
        break;
    case 'import':
        fresh_config();
        M1_0_0::$tomlFile = $argv[2];
        M1_0_0::$executable = $argv[3];
        M1_0_0::$rcConfFile = $argv[4] ?? getenv('CARP_PHP_SCRATCH') . '/no-such-rc.conf';
        $model = new CarpServiceStatus();
        $migrated = $model->runMigrations();
        Config::getInstance()->save();
        $result = ['ok' => $migrated, 'errors' => errors_of($model)];
        break;
    default:
        fwrite(STDERR, "usage: model-tool.php write SPEC.json | dump | import TOML EXECUTABLE [RCCONF]\n");
        exit(2);
}
$log = array_values(array_filter(explode("\n", ob_get_clean()), 'strlen'));
Config::getInstance()->forceReload();
$result['values'] = values_of(new CarpServiceStatus());
$result['log'] = $log;
echo json_encode($result, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . PHP_EOL;

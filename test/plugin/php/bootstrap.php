<?php

/*
 * PHPUnit bootstrap (and prelude of model-tool.php): core's own test setup (setup.php: its
 * config.php and autoloader) with the plugin's MVC directories added, as they are merged into
 * /usr/local/opnsense/mvc on a firewall.
 *
 * Debian has no Phalcon. In the model layer only OPNsense\Base\Validation touches it, to run
 * Phalcon's own validators beside OPNsense's; the model uses none, so a stand-in whose validate()
 * finds nothing is enough (every OPNsense validator, mask and constraint still runs).
 *
 * Environment: OPNSENSE_CORE (the unpacked opnsense/core), CARP_PLUGIN_SRC (the plugin's src/),
 * CARP_PHP_SCRATCH (a directory for core's caches and config.xml; created when missing).
 */

namespace Phalcon\Filter\Validation {
    interface ValidatorInterface
    {
    }
}

namespace Phalcon\Filter {
    class Validation
    {
        public function add($field, $validator)
        {
            return $this;
        }

        public function validate($data = null)
        {
            return [];
        }
    }
}

namespace {
    foreach (['OPNSENSE_CORE', 'CARP_PLUGIN_SRC', 'CARP_PHP_SCRATCH'] as $name) {
        if (getenv($name) === false || getenv($name) === '') {
            fwrite(STDERR, "bootstrap.php: set {$name} (test/plugin/ does)\n");
            exit(2);
        }
    }
    require_once getenv('OPNSENSE_CORE') . '/src/opnsense/mvc/tests/setup.php';

    $scratch = getenv('CARP_PHP_SCRATCH');
    @mkdir($scratch . '/backup', 0700, true);
    if (!file_exists($scratch . '/config.xml')) {
        file_put_contents($scratch . '/config.xml', "<?xml version=\"1.0\"?>\n<opnsense>\n</opnsense>\n");
    }
    foreach (['cacheDir', 'tempDir', 'configDir'] as $key) {
        (new \OPNsense\Core\AppConfig())->update('application.' . $key, $scratch);
    }

    $mvc = getenv('CARP_PLUGIN_SRC') . '/opnsense/mvc/app';
    (new \OPNsense\Autoload\Loader([$mvc . '/controllers', $mvc . '/models', $mvc . '/library']))->register();
}

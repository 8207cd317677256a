<?php

/*
 * Copyright (C) 2026 The carp-service-status authors
 * All rights reserved.
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *
 * 1. Redistributions of source code must retain the above copyright notice,
 *    this list of conditions and the following disclaimer.
 *
 * 2. Redistributions in binary form must reproduce the above copyright
 *    notice, this list of conditions and the following disclaimer in the
 *    documentation and/or other materials provided with the distribution.
 *
 * THIS SOFTWARE IS PROVIDED ``AS IS'' AND ANY EXPRESS OR IMPLIED WARRANTIES,
 * INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY
 * AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
 * AUTHOR BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY,
 * OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 * SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 * INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 * CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 * ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 * POSSIBILITY OF SUCH DAMAGE.
 */

namespace OPNsense\CarpServiceStatus\Migrations;

use OPNsense\Base\BaseModelMigration;
use OPNsense\Core\Shell;
use OPNsense\Core\Syslog;

/**
 * The one-time import: when the plugin takes over a node that ran carp-service-status from a
 * hand-written /usr/local/etc/carp_service_status.toml, its settings move into config.xml, so the
 * template that renders the file from now on writes them back instead of the defaults. So does
 * the service switch of /etc/rc.conf.d/carp_service_status (carp_service_status_enable), which
 * the template rewrites too; a config file named there (carp_service_status_config) is the one
 * imported.
 *
 * carp-service-status itself reads the file (config --json): the import takes exactly the values
 * the daemon was running with, validated by the same schema, with no second TOML parser. A copy of
 * the file is kept as carp_service_status.toml.pre-plugin (comments and all). A value the model
 * refuses (sysctl = "simulated", a check name that can never be a file) is left at its default
 * and logged, as is a file that carp-service-status does not accept. simulationFile and
 * simulationLog only matter with a simulated sysctl or logger, which a firewall never has: the
 * model has no such settings.
 */
class M1_0_0 extends BaseModelMigration
{
    /** @var string the configuration written by hand before the plugin */
    public static $tomlFile = '/usr/local/etc/carp_service_status.toml';

    /** @var string where the rc.d script's settings are, on OPNsense */
    public static $rcConfFile = '/etc/rc.conf.d/carp_service_status';

    /** @var string carp-service-status, installed by the package the plugin depends on */
    public static $executable = '/usr/local/bin/carp-service-status';

    /** Keys of the TOML stored as they are (strings, or numbers as their decimal text). */
    private const PLAIN_KEYS = [
        'hooksDir', 'sysctl', 'logger', 'lockFile', 'lockTimeoutMs', 'hookTimeoutMs', 'killGraceMs',
        'concurrency', 'outputLimitBytes', 'fall', 'rise', 'promoteDelayMs', 'stateFile', 'metricsFile',
        'notifyDir', 'notifyTimeoutMs', 'logFormat', 'logLevel', 'socketGroup', 'gatewayStatusCommand',
        'gatewayStatusTimeoutMs', 'maintenanceFile',
    ];

    private $logger = null;

    public function run($model)
    {
        parent::run($model);
        $this->logger = new Syslog('carp-service-status', null, LOG_DAEMON);

        $rc = self::readRcConf(static::$rcConfFile);
        if (isset($rc['enable']) && preg_match('/^(yes|true|on|1)$/i', $rc['enable'])) {
            $model->enabled = '1';
            $this->logger->notice(sprintf('import: the service stays enabled, as "%s" had it', static::$rcConfFile));
        }
        $toml = !empty($rc['config']) ? $rc['config'] : static::$tomlFile;
        if (!is_file($toml)) {
            return;
        }
        $kept = static::$tomlFile . '.pre-plugin';
        if (!file_exists($kept) && !@copy($toml, $kept)) {
            $this->logger->warning(sprintf('import: cannot keep a copy of "%s" as "%s"', $toml, $kept));
        }

        $settings = $this->readSettings($toml);
        if ($settings === null) {
            return;
        }
        $this->apply($model, $settings);
        $this->dropRefused($model);
        $this->logger->notice(sprintf(
            'import: settings of "%s" moved into config.xml (the original is kept as "%s")',
            $toml,
            $kept
        ));
    }

    /**
     * carp_service_status_enable and carp_service_status_config from an rc.conf(5) file, as
     * sysrc(8) writes them: name=value, the value optionally quoted.
     */
    private static function readRcConf($file)
    {
        $result = [];
        $text = is_readable($file) ? file_get_contents($file) : '';
        preg_match_all('/^\s*carp_service_status_(enable|config)=(["\']?)([^"\'\n]*)\2\s*(#.*)?$/m', $text, $matches, PREG_SET_ORDER);
        foreach ($matches as $match) {
            $result[$match[1]] = $match[3];
        }
        return $result;
    }

    /**
     * The effective settings of the file, as carp-service-status reads them, or null (logged)
     * when it does not accept the file.
     */
    private function readSettings($toml)
    {
        $output = Shell::shell_safe('%s config --json --config %s 2>&1', [static::$executable, $toml]);
        $settings = json_decode($output, true);
        if (!is_array($settings)) {
            $this->logger->error(sprintf(
                'import: "%s" was not imported, carp-service-status does not accept it: %s',
                $toml,
                preg_replace('/\s+/', ' ', trim($output))
            ));
            return null;
        }
        return $settings;
    }

    private static function text($value)
    {
        if (is_bool($value)) {
            return $value ? '1' : '0';
        }
        return (string)$value;
    }

    private function apply($model, array $settings)
    {
        foreach (self::PLAIN_KEYS as $key) {
            if (array_key_exists($key, $settings)) {
                $model->$key = self::text($settings[$key]);
            }
        }
        if (array_key_exists('scriptSecurity', $settings)) {
            $model->scriptSecurity = self::text($settings['scriptSecurity']);
        }
        foreach (['socket', 'schedule'] as $key) {
            if (!array_key_exists($key, $settings)) {
                continue;
            }
            $switch = $key . 'Enabled';
            if ($settings[$key] === false) {
                $model->$switch = '0';
            } else {
                $model->$switch = '1';
                $model->$key = self::text($settings[$key]);
            }
        }
        foreach ($settings['hookEnv'] ?? [] as $name => $value) {
            $variable = $model->hookEnv->variable->Add();
            $variable->name = (string)$name;
            $variable->value = self::text($value);
        }
        foreach ($settings['hooks'] ?? [] as $name => $hook) {
            $node = $model->hooks->hook->Add();
            $node->name = (string)$name;
            $node->enabled = ($hook['enabled'] ?? true) ? '1' : '0';
            foreach (['fall', 'rise', 'timeoutMs', 'intervalMs', 'user'] as $key) {
                if (isset($hook[$key])) {
                    $node->$key = self::text($hook[$key]);
                }
            }
        }
        foreach ($settings['gateways'] ?? [] as $name => $gateway) {
            $node = $model->gateways->gateway->Add();
            $node->name = (string)$name;
            $node->enabled = ($gateway['enabled'] ?? true) ? '1' : '0';
            if (isset($gateway['failOn']) && is_array($gateway['failOn'])) {
                $node->failOn = implode(',', array_map('strval', $gateway['failOn']));
            }
            foreach (['fall', 'rise'] as $key) {
                if (isset($gateway[$key])) {
                    $node->$key = self::text($gateway[$key]);
                }
            }
        }
    }

    /** Values the model refuses go back to their defaults (a refused check, gateway or variable is left out), each logged. */
    private function dropRefused($model)
    {
        foreach ($model->performValidation(true) as $message) {
            $reference = $message->getField();
            $node = $model->getNodeByReference($reference);
            if ($node === null) {
                continue;
            }
            $this->logger->warning(sprintf(
                'import: %s = "%s" left out: %s',
                $reference,
                $node->getValue(),
                $message->getMessage()
            ));
            $parts = explode('.', $reference);
            if (count($parts) === 4 && in_array($parts[0], ['hooks', 'hookEnv', 'gateways'], true)) {
                // hooks.hook.UUID.name: the whole entry goes.
                $model->getNodeByReference($parts[0] . '.' . $parts[1])->Del($parts[2]);
            } else {
                $node->applyDefault();
            }
        }
    }
}

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

namespace tests\OPNsense\CarpServiceStatus;

use OPNsense\Base\Constraints\UniqueConstraint;
use OPNsense\Core\AppConfig;
use OPNsense\Core\Config;
use OPNsense\CarpServiceStatus\CarpServiceStatus;

/**
 * The model: its defaults validate, every bound is enforced on both sides, and check names that
 * can never be a check (a slash, a line break, a leading dot, a duplicate) are refused.
 */
class CarpServiceStatusTest extends \PHPUnit\Framework\TestCase
{
    private static $configDir = null;

    public static function setUpBeforeClass(): void
    {
        self::$configDir = sys_get_temp_dir() . '/carp-service-status-model-test-' . getmypid();
        @mkdir(self::$configDir . '/backup', 0700, true);
        file_put_contents(self::$configDir . '/config.xml', "<?xml version=\"1.0\"?>\n<opnsense/>\n");
        (new AppConfig())->update('application.configDir', self::$configDir);
        Config::getInstance()->forceReload();
    }

    public static function tearDownAfterClass(): void
    {
        foreach (glob(self::$configDir . '/{,backup/}*', GLOB_BRACE) as $file) {
            @unlink($file);
        }
        @rmdir(self::$configDir . '/backup');
        @rmdir(self::$configDir);
    }

    /** Validation messages of the whole model, by field reference. */
    private static function errors($model)
    {
        // UniqueConstraint caches the items it counted per validation round, keyed by the model's
        // round number only: a fresh model's first round would reuse the previous model's counts.
        // A web request builds one model; these tests build many, so the cache starts afresh.
        $sequence = new \ReflectionProperty(UniqueConstraint::class, 'validationSequence');
        $sequence->setAccessible(true);
        $sequence->setValue(null, -1);
        $errors = [];
        foreach ($model->performValidation(true) as $message) {
            $errors[$message->getField()] = $message->getMessage();
        }
        return $errors;
    }

    public function testDefaultsValidate()
    {
        $model = new CarpServiceStatus();
        $this->assertSame([], self::errors($model));
        $this->assertSame('0', (string)$model->enabled);
        $this->assertSame('/usr/local/etc/rc.carp_service_status.d', (string)$model->hooksDir);
        $this->assertSame('*/10 * * * * *', (string)$model->schedule);
        $this->assertSame('10000', (string)$model->hookTimeoutMs);
    }

    public static function boundsProvider()
    {
        return [
            'lockTimeoutMs' => ['lockTimeoutMs', 0, 3600000],
            'hookTimeoutMs' => ['hookTimeoutMs', 100, 3600000],
            'killGraceMs' => ['killGraceMs', 0, 60000],
            'concurrency' => ['concurrency', 1, 256],
            'outputLimitBytes' => ['outputLimitBytes', 0, 1048576],
            'fall' => ['fall', 1, 1000],
            'rise' => ['rise', 1, 1000],
            'promoteDelayMs' => ['promoteDelayMs', 0, 86400000],
            'notifyTimeoutMs' => ['notifyTimeoutMs', 100, 3600000],
            'gatewayStatusTimeoutMs' => ['gatewayStatusTimeoutMs', 100, 600000],
        ];
    }

    /**
     * @dataProvider boundsProvider
     */
    public function testEveryBoundIsEnforced($field, $min, $max)
    {
        foreach ([$min, $max] as $value) {
            $model = new CarpServiceStatus();
            $model->$field = (string)$value;
            $this->assertArrayNotHasKey($field, self::errors($model), "{$field} = {$value} is within bounds");
        }
        foreach ([$min - 1, $max + 1, '1.5', 'ten'] as $value) {
            $model = new CarpServiceStatus();
            $model->$field = (string)$value;
            $this->assertArrayHasKey($field, self::errors($model), "{$field} = {$value} is refused");
        }
    }

    public function testPerCheckBoundsAreEnforcedAndEmptyMeansTheGeneralSetting()
    {
        $perCheck = ['fall' => [1, 1000], 'rise' => [1, 1000], 'timeoutMs' => [100, 3600000], 'intervalMs' => [1000, 86400000]];
        foreach ($perCheck as $field => $bounds) {
            $model = new CarpServiceStatus();
            $hook = $model->hooks->hook->Add();
            $hook->name = 'frr_ospf';
            $this->assertSame([], self::errors($model), "{$field} left empty is accepted");
            foreach ($bounds as $value) {
                $hook->$field = (string)$value;
                $this->assertSame([], self::errors($model), "{$field} = {$value} is within bounds");
            }
            foreach ([$bounds[0] - 1, $bounds[1] + 1] as $value) {
                $hook->$field = (string)$value;
                $this->assertArrayHasKey($hook->__reference . '.' . $field, self::errors($model), "{$field} = {$value} is refused");
            }
        }
    }

    public function testACheckRunsAsAUserNamedLikeOne()
    {
        foreach (['nobody', '_dhcp', 'www-data', 'a.b', str_repeat('u', 32)] as $user) {
            $model = new CarpServiceStatus();
            $hook = $model->hooks->hook->Add();
            $hook->name = 'frr_ospf';
            $hook->user = $user;
            $this->assertSame([], self::errors($model), "user {$user} is accepted");
        }
        foreach (['0day', 'root;id', "nobody\n", 'a b', str_repeat('u', 33), '-x'] as $user) {
            $model = new CarpServiceStatus();
            $hook = $model->hooks->hook->Add();
            $hook->name = 'frr_ospf';
            $hook->user = $user;
            $errors = self::errors($model);
            $this->assertArrayHasKey($hook->__reference . '.user', $errors, "user {$user} is refused");
            $this->assertStringContainsString('name of a user', $errors[$hook->__reference . '.user']);
        }
    }

    public function testTheMaintenanceSwitchFileIsAnAbsolutePathOutsideVarRun()
    {
        $model = new CarpServiceStatus();
        $this->assertSame('/var/db/carp_service_status.maintenance', (string)$model->maintenanceFile);
        $model->maintenanceFile = 'relative/path';
        $this->assertArrayHasKey('maintenanceFile', self::errors($model));
    }

    public static function badNameProvider()
    {
        return [
            'a slash' => ['frr/ospf'],
            'a newline' => ["frr\nospf"],
            'a trailing newline' => ["frr_ospf\n"],
            'a carriage return' => ["frr\rospf"],
            'a leading dot' => ['.frr_ospf'],
            'dot-dot' => ['..'],
            'a NUL' => ["frr\0ospf"],
            'invalid UTF-8' => ["frr\xffospf"],
            'longer than a file name' => [str_repeat('a', 256)],
        ];
    }

    /**
     * @dataProvider badNameProvider
     */
    public function testCheckNamesThatCanNeverBeAHookFileAreRefused($name)
    {
        $model = new CarpServiceStatus();
        $hook = $model->hooks->hook->Add();
        $hook->name = $name;
        $errors = self::errors($model);
        $this->assertArrayHasKey($hook->__reference . '.name', $errors);
        $this->assertStringContainsString('file name of a check', $errors[$hook->__reference . '.name']);
    }

    public function testCheckNamesAsTheDaemonListsThemAreAccepted()
    {
        $model = new CarpServiceStatus();
        foreach (['frr_ospf', 'unbound', 'wan gateway', 'dns-über-tls', '10-carp.sh', str_repeat('a', 255)] as $name) {
            $model->hooks->hook->Add()->name = $name;
        }
        $this->assertSame([], self::errors($model));
    }

    public function testADuplicateCheckNameIsRefused()
    {
        $model = new CarpServiceStatus();
        $model->hooks->hook->Add()->name = 'frr_ospf';
        $second = $model->hooks->hook->Add();
        $second->name = 'frr_ospf';
        $errors = self::errors($model);
        $this->assertContains('This check is already listed: each name is listed once.', $errors);
    }

    public function testHookEnvNamesArePortableAndUnique()
    {
        $model = new CarpServiceStatus();
        $variable = $model->hookEnv->variable->Add();
        $variable->name = 'REQUESTS_CA_BUNDLE';
        $variable->value = "/usr/local/etc/ssl/cert.pem \"quoted\" \\ é\n";
        $this->assertSame([], self::errors($model));

        foreach (['1ABC', 'A-B', 'A B', ''] as $name) {
            $variable->name = $name;
            $this->assertArrayHasKey($variable->__reference . '.name', self::errors($model), "\"{$name}\" is refused");
        }
        $variable->name = 'HOME_DIR';
        $model->hookEnv->variable->Add()->name = 'HOME_DIR';
        $this->assertContains('This variable is already set: each name is listed once.', self::errors($model));
    }

    public function testHookEnvValuesRefuseControlCharactersButLineBreaks()
    {
        $model = new CarpServiceStatus();
        $variable = $model->hookEnv->variable->Add();
        $variable->name = 'X';
        $variable->value = "a\x01b";
        $this->assertArrayHasKey($variable->__reference . '.value', self::errors($model));
    }

    public static function badPathProvider()
    {
        return [
            'relative' => ['hooksDir', 'etc/rc.carp_service_status.d'],
            'a newline' => ['socket', "/var/run/x\n.sock"],
            'simulated sysctl' => ['sysctl', 'simulated'],
            'relative metrics file' => ['metricsFile', 'carp.prom'],
            'relative notify dir' => ['notifyDir', 'notify.d'],
            'relative state file' => ['stateFile', 'state'],
            'relative gateway status command' => ['gatewayStatusCommand', 'gateway_status.php'],
        ];
    }

    /**
     * @dataProvider badPathProvider
     */
    public function testPathsAreAbsolute($field, $value)
    {
        $model = new CarpServiceStatus();
        $model->$field = $value;
        $this->assertArrayHasKey($field, self::errors($model));
    }

    public function testOptionalSettingsMayStayEmpty()
    {
        $model = new CarpServiceStatus();
        foreach (['socketGroup', 'metricsFile', 'notifyDir'] as $field) {
            $model->$field = '';
        }
        $this->assertSame([], self::errors($model));
    }

    public function testSocketGroupIsANameOrAGid()
    {
        foreach (['wheel', '_carp', '0', '1001'] as $group) {
            $model = new CarpServiceStatus();
            $model->socketGroup = $group;
            $this->assertArrayNotHasKey('socketGroup', self::errors($model), "\"{$group}\" is accepted");
        }
        foreach (['-wheel', 'wheel staff', "wheel\n"] as $group) {
            $model = new CarpServiceStatus();
            $model->socketGroup = $group;
            $this->assertArrayHasKey('socketGroup', self::errors($model), "\"{$group}\" is refused");
        }
    }

    public function testScheduleLooksLikeACronPattern()
    {
        foreach (['*/10 * * * * *', '0 */5 * * *', '@hourly', '0 0 1 1 * *'] as $pattern) {
            $model = new CarpServiceStatus();
            $model->schedule = $pattern;
            $this->assertArrayNotHasKey('schedule', self::errors($model), "\"{$pattern}\" is accepted");
        }
        foreach (['every minute', '* * *', "* * * * *\n*"] as $pattern) {
            $model = new CarpServiceStatus();
            $model->schedule = $pattern;
            $this->assertArrayHasKey('schedule', self::errors($model), "\"{$pattern}\" is refused");
        }
    }

    public function testAGatewayCheckFailsOnDownAndForceDownByDefault()
    {
        $model = new CarpServiceStatus();
        $gateway = $model->gateways->gateway->Add();
        $gateway->name = 'WAN_GW';
        $this->assertSame([], self::errors($model));
        $this->assertSame('1', (string)$gateway->enabled);
        $this->assertSame('down,force_down', (string)$gateway->failOn);
        $this->assertSame('', (string)$gateway->fall);
        $this->assertSame('/usr/local/opnsense/scripts/routes/gateway_status.php', (string)$model->gatewayStatusCommand);
        $this->assertSame('10000', (string)$model->gatewayStatusTimeoutMs);
    }

    public function testFailOnTakesTheStatusesOpnsenseReportsAndNeedsOne()
    {
        $model = new CarpServiceStatus();
        $gateway = $model->gateways->gateway->Add();
        $gateway->name = 'WAN2_GW';
        $gateway->failOn = 'down,force_down,loss,delay,delay+loss';
        $this->assertSame([], self::errors($model));
        foreach (['none', 'offline', 'down,pending', ''] as $failOn) {
            $gateway->failOn = $failOn;
            $this->assertArrayHasKey($gateway->__reference . '.failOn', self::errors($model), "failOn \"{$failOn}\" is refused");
        }
    }

    public static function badGatewayNameProvider()
    {
        return [
            'a space' => ['WAN GW'],
            'a comma' => ['WAN_GW,LAN_GW'],
            'a colon' => ['gateway:WAN_GW'],
            'a newline' => ["WAN_GW\n"],
            'empty' => [''],
            'longer than 64' => [str_repeat('G', 65)],
        ];
    }

    /**
     * @dataProvider badGatewayNameProvider
     */
    public function testGatewayNamesAreAsOpnsenseNamesGateways($name)
    {
        $model = new CarpServiceStatus();
        $gateway = $model->gateways->gateway->Add();
        $gateway->name = $name;
        $this->assertArrayHasKey($gateway->__reference . '.name', self::errors($model));
    }

    public function testGatewayNamesAreUniqueAndTheirFlapSettingsBounded()
    {
        $model = new CarpServiceStatus();
        foreach (['WAN_GW', 'WAN_DHCP6', 'OPT1-GW', str_repeat('G', 64)] as $name) {
            $model->gateways->gateway->Add()->name = $name;
        }
        $this->assertSame([], self::errors($model));
        $gateway = $model->gateways->gateway->Add();
        $gateway->name = 'WAN_GW';
        $this->assertContains('This gateway is already listed: each gateway is listed once.', self::errors($model));
        $gateway->name = 'WAN2_GW';
        foreach (['fall', 'rise'] as $field) {
            foreach (['0', '1001'] as $value) {
                $gateway->$field = $value;
                $this->assertArrayHasKey($gateway->__reference . '.' . $field, self::errors($model), "{$field} = {$value} is refused");
            }
            $gateway->$field = '';
        }
        $this->assertSame([], self::errors($model));
    }

    public function testOptionFieldsOfferTheSchemaValuesOnly()
    {
        $model = new CarpServiceStatus();
        $model->logFormat = 'yaml';
        $model->logLevel = 'verbose';
        $errors = self::errors($model);
        $this->assertArrayHasKey('logFormat', $errors);
        $this->assertArrayHasKey('logLevel', $errors);
    }
}

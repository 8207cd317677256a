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

namespace OPNsense\CarpServiceStatus\Api;

use OPNsense\Base\ApiMutableServiceControllerBase;
use OPNsense\Core\Backend;

/**
 * The service: start, stop, restart, status and reconfigure (Apply: template reload, then
 * restart) as every OPNsense service has them, plus what the status tab and the widget ask
 * carp-service-status through configd: the daemon's status, an evaluation now, the maintenance
 * switch, the files in the hooks directory, this node's gateways and a configuration test.
 */
class ServiceController extends ApiMutableServiceControllerBase
{
    protected static $internalServiceClass = '\OPNsense\CarpServiceStatus\CarpServiceStatus';
    protected static $internalServiceTemplate = 'OPNsense/CarpServiceStatus';
    protected static $internalServiceEnabled = 'enabled';
    protected static $internalServiceName = 'carpservicestatus';

    /** A configd answer that should be JSON, decoded; or why it is not. */
    private static function decode($response)
    {
        $data = json_decode($response, true);
        if (is_array($data)) {
            return $data;
        }
        return [
            'daemonRunning' => null,
            'message' => trim($response) === '' ? gettext('No answer from configd.') : trim($response),
        ];
    }

    /**
     * The daemon's status: per check its raw and counted state and output, the demotion, the
     * hold-down, the last and next run. Without a daemon: {"daemonRunning": false, "message"}.
     */
    public function daemonStatusAction()
    {
        return self::decode((new Backend())->configdRun('carpservicestatus daemon_status'));
    }

    /** Evaluates now (through the daemon, or here when none runs) and answers with the table it printed. */
    public function evaluateAction()
    {
        if (!$this->request->isPost()) {
            return ['status' => 'failed', 'message' => gettext('Use POST to evaluate.')];
        }
        $output = (new Backend())->configdRun('carpservicestatus evaluate');
        return ['status' => 'ok', 'output' => trim($output)];
    }

    /**
     * The maintenance switch: POST state=on (with an optional reason) holds this node demoted
     * whatever the checks say, state=off lets the checks decide again. Answers what
     * `carp-service-status configd maintenance-on|off` prints: ok, the switch, the evaluation's table.
     * The switch is this node's own: it is kept on the node, not in config.xml, so HA sync never
     * copies it to the peer.
     */
    public function maintenanceAction()
    {
        if (!$this->request->isPost()) {
            return ['ok' => false, 'message' => gettext('Use POST to turn maintenance on or off.')];
        }
        $state = (string)$this->request->getPost('state');
        if ($state === 'on') {
            // One line of at most 200 characters, as carp-service-status takes it.
            $reason = preg_replace('/[\x00-\x1f\x7f]+/u', ' ', (string)$this->request->getPost('reason'));
            $reason = mb_substr(trim($reason ?? ''), 0, 200);
            $response = (new Backend())->configdpRun('carpservicestatus maintenance_on', [$reason]);
        } elseif ($state === 'off') {
            $response = (new Backend())->configdRun('carpservicestatus maintenance_off');
        } else {
            return ['ok' => false, 'message' => gettext('Give state "on" or "off".')];
        }
        $data = json_decode($response, true);
        if (is_array($data)) {
            return $data;
        }
        return ['ok' => false, 'message' => trim($response) === '' ? gettext('No answer from configd.') : trim($response)];
    }

    /** The files in the configured hooks directory, for picking check names. */
    public function hooksAction()
    {
        $data = json_decode((new Backend())->configdRun('carpservicestatus hooks'), true);
        if (!is_array($data)) {
            return ['hooksDir' => null, 'exists' => false, 'hooks' => [], 'error' => gettext('No answer from configd.')];
        }
        return $data;
    }

    /**
     * This node's gateways with their status, for picking gateway check names: what OPNsense's
     * gateway_status.php prints (configctl interface gateways status), as a list.
     */
    public function gatewaysAction()
    {
        $data = json_decode((new Backend())->configdRun('interface gateways status'), true);
        if (!is_array($data)) {
            return ['gateways' => [], 'error' => gettext('No gateway status from configd.')];
        }
        $gateways = [];
        foreach ($data as $name => $gateway) {
            $gateways[] = [
                'name' => (string)$name,
                'status' => is_array($gateway) ? (string)($gateway['status_translated'] ?? $gateway['status'] ?? '') : '',
            ];
        }
        return ['gateways' => $gateways];
    }

    /** carp-service-status config on the generated file: "configuration OK", or every bad key. */
    public function configtestAction()
    {
        $output = trim((new Backend())->configdRun('carpservicestatus configtest'));
        $ok = preg_match('/^configuration OK$/m', $output) === 1;
        return ['result' => $ok ? 'ok' : 'failed', 'output' => $output];
    }
}

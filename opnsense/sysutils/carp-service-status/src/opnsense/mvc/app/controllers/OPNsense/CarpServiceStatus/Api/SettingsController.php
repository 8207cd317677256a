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

use OPNsense\Base\ApiMutableModelControllerBase;

/**
 * The settings (get/set), the service checks (hooks.hook), the gateway checks (gateways.gateway)
 * and the hooks' environment (hookEnv.variable), each list with search/get/add/set/del/toggle as
 * the grids use them.
 */
class SettingsController extends ApiMutableModelControllerBase
{
    protected static $internalModelClass = '\OPNsense\CarpServiceStatus\CarpServiceStatus';
    protected static $internalModelName = 'carpservicestatus';

    public function searchHookAction()
    {
        return $this->searchBase('hooks.hook', null, 'name');
    }

    public function getHookAction($uuid = null)
    {
        return $this->getBase('hook', 'hooks.hook', $uuid);
    }

    public function addHookAction()
    {
        return $this->addBase('hook', 'hooks.hook');
    }

    public function setHookAction($uuid)
    {
        return $this->setBase('hook', 'hooks.hook', $uuid);
    }

    public function delHookAction($uuid)
    {
        return $this->delBase('hooks.hook', $uuid);
    }

    public function toggleHookAction($uuid, $enabled = null)
    {
        return $this->toggleBase('hooks.hook', $uuid, $enabled);
    }

    public function searchGatewayAction()
    {
        return $this->searchBase('gateways.gateway', null, 'name');
    }

    public function getGatewayAction($uuid = null)
    {
        return $this->getBase('gateway', 'gateways.gateway', $uuid);
    }

    public function addGatewayAction()
    {
        return $this->addBase('gateway', 'gateways.gateway');
    }

    public function setGatewayAction($uuid)
    {
        return $this->setBase('gateway', 'gateways.gateway', $uuid);
    }

    public function delGatewayAction($uuid)
    {
        return $this->delBase('gateways.gateway', $uuid);
    }

    public function toggleGatewayAction($uuid, $enabled = null)
    {
        return $this->toggleBase('gateways.gateway', $uuid, $enabled);
    }

    public function searchVariableAction()
    {
        return $this->searchBase('hookEnv.variable', null, 'name');
    }

    public function getVariableAction($uuid = null)
    {
        return $this->getBase('variable', 'hookEnv.variable', $uuid);
    }

    public function addVariableAction()
    {
        return $this->addBase('variable', 'hookEnv.variable');
    }

    public function setVariableAction($uuid)
    {
        return $this->setBase('variable', 'hookEnv.variable', $uuid);
    }

    public function delVariableAction($uuid)
    {
        return $this->delBase('hookEnv.variable', $uuid);
    }
}

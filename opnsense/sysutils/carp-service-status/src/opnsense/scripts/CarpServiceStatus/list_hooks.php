#!/usr/local/bin/php
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

/*
 * Lists the files of the configured hooks directory as JSON, for picking check names in the GUI
 * (configctl carpservicestatus hooks). The directory is read from config.xml, never from the
 * caller: the action takes no parameters. The optional argument names another config.xml (tests).
 *
 * {"hooksDir": "...", "exists": true, "error": null,
 *  "hooks": [{"name": "frr_ospf", "type": "file", "executable": true}, ...]}
 *
 * Like the daemon, it leaves out dotfiles (never run as checks) and sorts names in byte order.
 * It always exits 0 and writes nothing to stderr: a problem is the "error" member.
 */

const DEFAULT_HOOKS_DIR = '/usr/local/etc/rc.carp_service_status.d';

function configured_hooks_dir($config_file)
{
    if (!is_readable($config_file)) {
        return DEFAULT_HOOKS_DIR;
    }
    $config = @simplexml_load_file($config_file);
    if ($config === false) {
        return DEFAULT_HOOKS_DIR;
    }
    $nodes = $config->xpath('/opnsense/OPNsense/CarpServiceStatus/hooksDir');
    if (empty($nodes) || trim((string)$nodes[0]) === '') {
        return DEFAULT_HOOKS_DIR;
    }
    return (string)$nodes[0];
}

function entry_type($path)
{
    if (is_link($path)) {
        return is_dir($path) ? 'link to directory' : (file_exists($path) ? 'link' : 'broken link');
    }
    if (is_dir($path)) {
        return 'directory';
    }
    return is_file($path) ? 'file' : 'other';
}

$hooks_dir = configured_hooks_dir($argv[1] ?? '/conf/config.xml');
$result = ['hooksDir' => $hooks_dir, 'exists' => is_dir($hooks_dir), 'error' => null, 'hooks' => []];

if (!$result['exists']) {
    $result['error'] = sprintf('The hooks directory "%s" does not exist.', $hooks_dir);
} else {
    $names = @scandir($hooks_dir, SCANDIR_SORT_NONE);
    if ($names === false) {
        $result['error'] = sprintf('The hooks directory "%s" cannot be read.', $hooks_dir);
    } else {
        sort($names, SORT_STRING);
        foreach ($names as $name) {
            if ($name === '' || $name[0] === '.') {
                continue;
            }
            $path = $hooks_dir . '/' . $name;
            $result['hooks'][] = [
                'name' => $name,
                'type' => entry_type($path),
                'executable' => is_file($path) && is_executable($path),
            ];
        }
    }
}

echo json_encode($result, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) . PHP_EOL;

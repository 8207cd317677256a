{#
 # Copyright (C) 2026 The carp-service-status authors
 # All rights reserved.
 #
 # Redistribution and use in source and binary forms, with or without modification,
 # are permitted provided that the following conditions are met:
 #
 # 1. Redistributions of source code must retain the above copyright notice,
 #    this list of conditions and the following disclaimer.
 #
 # 2. Redistributions in binary form must reproduce the above copyright notice,
 #    this list of conditions and the following disclaimer in the documentation
 #    and/or other materials provided with the distribution.
 #
 # THIS SOFTWARE IS PROVIDED ``AS IS'' AND ANY EXPRESS OR IMPLIED WARRANTIES,
 # INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY
 # AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
 # AUTHOR BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY,
 # OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 # SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 # INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 # CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 # ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 # POSSIBILITY OF SUCH DAMAGE.
 #}

<script>
    const OUR_BIT = 1048576;

    function escapeHtml(value) {
        return $('<div/>').text(value === null || value === undefined ? '' : String(value)).html();
    }

    function stateLabel(state) {
        const classes = {'pass': 'label-success', 'fail': 'label-danger', 'skipped': 'label-default'};
        return $('<span class="label"/>').addClass(classes[state] || 'label-default').text(state);
    }

    /* The demotion explained, as "carp-service-status check" prints it under its table. */
    function explainDemotion(status) {
        if (typeof status.demotion !== 'number') {
            return "{{ lang._('The demotion could not be read.') }}";
        }
        const lines = [];
        const ours = status.demoted ? OUR_BIT : 0;
        const kernel = status.demotion - ours;
        lines.push("{{ lang._('net.inet.carp.demotion is') }} " + status.demotion + '.');
        if (status.demoted && status.maintenance && (!status.lastRun || status.lastRun.failed.length === 0)) {
            lines.push("{{ lang._('Our bit (2^20) is set: the maintenance switch holds this node demoted, and it advertises itself as the worse master.') }}");
        } else {
            lines.push(status.demoted
                ? "{{ lang._('Our bit (2^20) is set: a service check counts as failed, and this node advertises itself as the worse master.') }}"
                : "{{ lang._('Our bit (2^20) is clear: no service check demotes this node.') }}");
        }
        if (kernel > 0 && kernel % 240 === 0) {
            lines.push(kernel + " {{ lang._('comes from the kernel itself (240 for each interface down, maintenance mode or pfsync bulk update).') }}");
        } else if (kernel !== 0) {
            lines.push(kernel + " {{ lang._('is neither our bit nor a multiple of 240 from the kernel: look at the anomalies below.') }}");
        }
        return lines.join(' ');
    }

    /* The maintenance switch as the last evaluation read it. */
    function renderMaintenance(status) {
        const on = status && status.maintenance;
        $('#maintenance_state').empty().append(on
            ? $('<span/>').append($('<span class="label label-warning"/>').text("{{ lang._('on') }}")).append(document.createTextNode(
                ' ' + "{{ lang._('since') }} " + new Date(on.since).toLocaleString() + (on.reason ? ': ' + on.reason : '') +
                '. ' + "{{ lang._('This node is held demoted whatever the checks say.') }}"))
            : $('<span/>').append($('<span class="label label-default"/>').text("{{ lang._('off') }}")).append(document.createTextNode(
                ' ' + "{{ lang._('The checks decide.') }}")));
        $('#maintenanceOnAct').prop('disabled', !!on);
        $('#maintenanceOffAct').prop('disabled', !on && !!status && Array.isArray(status.services));
    }

    function switchMaintenance(state) {
        const $buttons = $('#maintenanceOnAct, #maintenanceOffAct').prop('disabled', true);
        ajaxCall('/api/carpservicestatus/service/maintenance', {'state': state, 'reason': $('#maintenance_reason').val()}, function (data) {
            $('#maintenance_output').text(data.ok ? (data.output || '') : (data.message || '')).show();
            $buttons.prop('disabled', false);
            refreshStatus();
        });
    }

    function renderStatus(status) {
        renderMaintenance(status);
        const $message = $('#status_message').empty().hide();
        const $rows = $('#status_checks > tbody').empty();
        if (!status || !Array.isArray(status.services)) {
            $message.text((status && status.message) || "{{ lang._('The daemon does not answer.') }}").show();
            $('#status_demotion, #status_holddown, #status_runs').text('');
            return;
        }
        $('#status_demotion').text(explainDemotion(status));
        const held = status.promotionHeld;
        $('#status_holddown').text(held
            ? "{{ lang._('Every check passes; the demotion comes off at') }} " + new Date(held.until).toLocaleString() +
              " {{ lang._('unless a check fails before') }} (" + Math.ceil(held.remainingMs / 1000) + " s)."
            : "{{ lang._('No promotion is held.') }}");
        const last = status.lastRun ? new Date(status.lastRun.startedAt).toLocaleString() : '-';
        const next = status.nextRun ? new Date(status.nextRun).toLocaleString() : '-';
        $('#status_runs').text("{{ lang._('Last run') }} " + last + ", {{ lang._('next run') }} " + next +
            ", {{ lang._('hooks directory') }} " + status.hooksDir);
        const notes = (status.anomalies || []).concat(status.warnings || []);
        if (notes.length > 0) {
            $message.text(notes.join(' ')).show();
        }
        if (status.services.length === 0) {
            $rows.append($('<tr/>').append($('<td colspan="6"/>').text("{{ lang._('No service checks in') }} " + status.hooksDir)));
        }
        status.services.forEach(function (service) {
            const counted = service.counted
                ? $('<span/>').append(stateLabel(service.counted.state)).append(
                    document.createTextNode(' ' + service.counted.streak + '/' + service.counted.needed))
                : '-';
            const exit = service.timedOut ? "{{ lang._('timed out') }}"
                : (service.signal || (service.exitCode === null ? '-' : String(service.exitCode)));
            const output = (service.reason ? service.reason + '\n' : '') + (service.output || '');
            $rows.append($('<tr/>')
                .append($('<td/>').text(service.name))
                .append($('<td/>').append(stateLabel(service.status)))
                .append($('<td/>').append(counted))
                .append($('<td/>').text(exit))
                .append($('<td/>').text(service.durationMs + ' ms' + (service.cached && typeof service.ageMs === 'number'
                    ? ', ' + Math.round(service.ageMs / 1000) + " {{ lang._('s ago (intervalMs)') }}" : '')))
                .append($('<td/>').append($('<pre style="margin: 0; white-space: pre-wrap;"/>').text(output))));
        });
    }

    function refreshStatus() {
        ajaxGet('/api/carpservicestatus/service/daemon_status', {}, function (data) {
            renderStatus(data);
        });
    }

    /* The files in the hooks directory, offered when typing a check's name. */
    function refreshHookFiles() {
        ajaxGet('/api/carpservicestatus/service/hooks', {}, function (data) {
            const $list = $('#carpservicestatus_hook_files').empty();
            (data.hooks || []).forEach(function (hook) {
                $list.append($('<option/>').attr('value', hook.name).text(hook.executable ? hook.type : hook.type + ", {{ lang._('not executable') }}"));
            });
            $('#hook_files_note').text(data.error || '');
        });
    }

    /* This node's gateways, offered when typing a gateway check's name. */
    function refreshGatewayNames() {
        ajaxGet('/api/carpservicestatus/service/gateways', {}, function (data) {
            const $list = $('#carpservicestatus_gateway_names').empty();
            (data.gateways || []).forEach(function (gateway) {
                $list.append($('<option/>').attr('value', gateway.name).text(gateway.status));
            });
        });
    }

    $(document).ready(function () {
        mapDataToFormUI({'frm_settings': '/api/carpservicestatus/settings/get'}).done(function () {
            formatTokenizersUI();
            $('.selectpicker').selectpicker('refresh');
        });

        $('#{{ formGridHook["table_id"] }}').UIBootgrid({
            search: '/api/carpservicestatus/settings/search_hook/',
            get: '/api/carpservicestatus/settings/get_hook/',
            set: '/api/carpservicestatus/settings/set_hook/',
            add: '/api/carpservicestatus/settings/add_hook/',
            del: '/api/carpservicestatus/settings/del_hook/',
            toggle: '/api/carpservicestatus/settings/toggle_hook/'
        });
        $('#{{ formGridGateway["table_id"] }}').UIBootgrid({
            search: '/api/carpservicestatus/settings/search_gateway/',
            get: '/api/carpservicestatus/settings/get_gateway/',
            set: '/api/carpservicestatus/settings/set_gateway/',
            add: '/api/carpservicestatus/settings/add_gateway/',
            del: '/api/carpservicestatus/settings/del_gateway/',
            toggle: '/api/carpservicestatus/settings/toggle_gateway/'
        });
        $('#{{ formGridVariable["table_id"] }}').UIBootgrid({
            search: '/api/carpservicestatus/settings/search_variable/',
            get: '/api/carpservicestatus/settings/get_variable/',
            set: '/api/carpservicestatus/settings/set_variable/',
            add: '/api/carpservicestatus/settings/add_variable/',
            del: '/api/carpservicestatus/settings/del_variable/'
        });

        $('#hook\\.name').attr('list', 'carpservicestatus_hook_files');
        $('#{{ formGridHook["edit_dialog_id"] }}').on('show.bs.modal', refreshHookFiles);
        $('#gateway\\.name').attr('list', 'carpservicestatus_gateway_names');
        $('#{{ formGridGateway["edit_dialog_id"] }}').on('show.bs.modal', refreshGatewayNames);

        $('#reconfigureAct').SimpleActionButton({
            onPreAction: function () {
                const dfObj = $.Deferred();
                saveFormToEndpoint('/api/carpservicestatus/settings/set', 'frm_settings', dfObj.resolve, true, dfObj.reject);
                return dfObj;
            },
            onAction: function (data, status) {
                updateServiceControlUI('carpservicestatus');
                ajaxGet('/api/carpservicestatus/service/configtest', {}, function (test) {
                    if (test.result !== 'ok') {
                        BootstrapDialog.show({
                            type: BootstrapDialog.TYPE_DANGER,
                            title: "{{ lang._('carp-service-status refuses the configuration') }}",
                            message: $('<pre/>').text(test.output)
                        });
                    }
                });
                refreshStatus();
            }
        });

        $('#evaluateAct').click(function () {
            const $button = $(this).prop('disabled', true);
            $('#evaluateAct_progress').addClass('fa fa-spinner fa-pulse');
            ajaxCall('/api/carpservicestatus/service/evaluate', {}, function (data) {
                $('#evaluate_output').text(data.output || data.message || '').show();
                $('#evaluateAct_progress').removeClass('fa fa-spinner fa-pulse');
                $button.prop('disabled', false);
                refreshStatus();
            });
        });

        $('#maintenanceOnAct').click(function () {
            BootstrapDialog.confirm({
                title: "{{ lang._('Turn maintenance on') }}",
                message: "{{ lang._('This node is held demoted until maintenance is turned off: the peer takes over as master (with preempt on). The switch survives restarts and reboots.') }}",
                type: BootstrapDialog.TYPE_WARNING,
                btnOKLabel: "{{ lang._('Turn maintenance on') }}",
                callback: function (confirmed) {
                    if (confirmed) {
                        switchMaintenance('on');
                    }
                }
            });
        });
        $('#maintenanceOffAct').click(function () {
            switchMaintenance('off');
        });

        $('a[data-toggle="tab"][href="#status"]').on('shown.bs.tab', refreshStatus);
        setInterval(function () {
            if ($('#status').hasClass('active')) {
                refreshStatus();
            }
        }, 10000);

        updateServiceControlUI('carpservicestatus');
        refreshStatus();

        if (window.location.hash !== '') {
            $('a[href="' + window.location.hash + '"]').click();
        }
    });
</script>

<ul class="nav nav-tabs" data-tabs="tabs" id="maintabs">
    <li class="active"><a data-toggle="tab" href="#settings">{{ lang._('Settings') }}</a></li>
    <li><a data-toggle="tab" href="#checks">{{ lang._('Checks') }}</a></li>
    <li><a data-toggle="tab" href="#status">{{ lang._('Status') }}</a></li>
</ul>

<div class="tab-content content-box">
    <div id="settings" class="tab-pane fade in active">
        {{ partial('layout_partials/base_form', ['fields': settingsForm, 'id': 'frm_settings']) }}
    </div>
    <div id="checks" class="tab-pane fade in">
        <div class="col-md-12">
            <p>{{ lang._('Every executable file in the hooks directory runs as a check, listed here or not. List a check to give it its own fall, rise or timeout, or to disable it.') }}</p>
        </div>
        {{ partial('layout_partials/base_bootgrid_table', formGridHook) }}
        <div class="col-md-12">
            <h2>{{ lang._('Gateway checks') }}</h2>
            <p>{{ lang._('Each gateway listed here is a check named gateway:NAME, judged on the status System > Gateways shows (dpinger): it fails while the gateway is down or marked down, or in any other status chosen. A gateway alarm triggers an evaluation at once.') }}</p>
        </div>
        {{ partial('layout_partials/base_bootgrid_table', formGridGateway) }}
        <datalist id="carpservicestatus_gateway_names"></datalist>
        <div class="col-md-12">
            <h2>{{ lang._('Environment of the checks') }}</h2>
        </div>
        {{ partial('layout_partials/base_bootgrid_table', formGridVariable) }}
        <datalist id="carpservicestatus_hook_files"></datalist>
    </div>
    <div id="status" class="tab-pane fade in">
        <div class="col-md-12">
            <h2>{{ lang._('Maintenance') }}</h2>
            <p id="maintenance_state"></p>
            <div class="form-inline">
                <input type="text" class="form-control" id="maintenance_reason" maxlength="200" size="50" placeholder="{{ lang._('Reason (optional)') }}"/>
                <button class="btn btn-warning" id="maintenanceOnAct" type="button">{{ lang._('Turn maintenance on') }}</button>
                <button class="btn btn-default" id="maintenanceOffAct" type="button">{{ lang._('Turn maintenance off') }}</button>
            </div>
            <p class="text-muted">{{ lang._('The CARP maintenance mode of OPNsense resets the demotion when it is left; this switch is kept on this node (not in the configuration, so HA sync never copies it) and put back at the next evaluation.') }}</p>
            <pre id="maintenance_output" style="display: none;"></pre>
            <div id="status_message" class="alert alert-warning" style="display: none; margin-top: 1em;"></div>
            <p id="status_demotion" style="margin-top: 1em;"></p>
            <p id="status_holddown"></p>
            <p id="status_runs" class="text-muted"></p>
        </div>
        <table id="status_checks" class="table table-condensed table-striped">
            <thead>
                <tr>
                    <th>{{ lang._('Check') }}</th>
                    <th>{{ lang._('Last run') }}</th>
                    <th>{{ lang._('Counted (flap control)') }}</th>
                    <th>{{ lang._('Exit') }}</th>
                    <th>{{ lang._('Time') }}</th>
                    <th>{{ lang._('Output') }}</th>
                </tr>
            </thead>
            <tbody></tbody>
        </table>
        <div class="col-md-12">
            <button class="btn btn-primary" id="evaluateAct" type="button">
                <b>{{ lang._('Evaluate now') }}</b> <i id="evaluateAct_progress"></i>
            </button>
            <pre id="evaluate_output" style="display: none; margin-top: 1em;"></pre>
            <br/><br/>
        </div>
    </div>
</div>

{{ partial('layout_partials/base_apply_button', {'data_endpoint': '/api/carpservicestatus/service/reconfigure', 'data_service_widget': 'carpservicestatus'}) }}
{{ partial('layout_partials/base_dialog', ['fields': formDialogHook, 'id': formGridHook['edit_dialog_id'], 'label': lang._('Edit check')]) }}
{{ partial('layout_partials/base_dialog', ['fields': formDialogGateway, 'id': formGridGateway['edit_dialog_id'], 'label': lang._('Edit gateway check')]) }}
{{ partial('layout_partials/base_dialog', ['fields': formDialogVariable, 'id': formGridVariable['edit_dialog_id'], 'label': lang._('Edit variable')]) }}
<span id="hook_files_note" class="hidden"></span>

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
 * Dashboard widget of carp-service-status: each service check's state, the CARP demotion (our
 * 2^20 bit and what the kernel adds), whether a promotion is held by the hold-down, and the
 * maintenance switch while it holds the node demoted. It reads
 * the daemon's status (configctl carpservicestatus daemon_status) every tick.
 */

const OUR_BIT = 1048576;

const STATE_COLOURS = { pass: 'green', fail: '#c0392b', skipped: 'grey' };

function escapeHtml(value) {
    return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function badge(text, colour, title = '') {
    return `<span class="badge badge-pill carpservicestatus-badge" title="${escapeHtml(title)}"
        style="background-color: ${colour}">${escapeHtml(text)}</span>`;
}

export default class CarpServiceStatus extends BaseTableWidget {
    constructor() {
        super();
        this.tickTimeout = 10;
    }

    getGridOptions() {
        return {
            // trigger overflow-y:scroll after 650px height
            sizeToContent: 650
        };
    }

    getMarkup() {
        const $table = this.createTable('carpservicestatus-table', {
            headerPosition: 'left',
        });
        return $('<div></div>')
            .append($('<div id="carpservicestatus-message" class="carpservicestatus-message"></div>').hide())
            .append($table);
    }

    showMessage(html) {
        $('#carpservicestatus-table').hide();
        $('#carpservicestatus-message').html(html).show();
    }

    demotionCell(status) {
        const t = this.translations;
        if (typeof status.demotion !== 'number') {
            return escapeHtml('?');
        }
        const demoted = status.demoted === true;
        const kernel = status.demotion - (demoted ? OUR_BIT : 0);
        let cell = `${badge(demoted ? t.demoted : t.notdemoted, demoted ? STATE_COLOURS.fail : STATE_COLOURS.pass)} ${status.demotion}`;
        if (kernel !== 0) {
            cell += ` (${kernel > 0 ? '+' : ''}${kernel} ${escapeHtml(t.kernel)})`;
        }
        return cell;
    }

    promotionCell(status) {
        const t = this.translations;
        const held = status.promotionHeld;
        if (!held) {
            return escapeHtml(t.notheld);
        }
        const until = new Date(held.until);
        const seconds = Math.ceil((held.remainingMs ?? 0) / 1000);
        return `${badge(t.held, 'darkorange')} ${escapeHtml(t.until)} ${escapeHtml(until.toLocaleTimeString())} (${seconds} s)`;
    }

    maintenanceCell(maintenance) {
        const t = this.translations;
        const since = new Date(maintenance.since);
        const reason = maintenance.reason ? `: ${escapeHtml(maintenance.reason)}` : '';
        return `${badge(t.maintenanceon, 'darkorange')} ${escapeHtml(t.since)} ${escapeHtml(since.toLocaleString())}${reason}`;
    }

    checkCell(service) {
        const t = this.translations;
        const firstLine = String(service.output ?? '').split('\n').find((line) => line.trim() !== '') ?? '';
        // As the table of "carp-service-status check" shows it: the reason, then the first line of output.
        const why = [service.reason, firstLine.trim()].filter((part) => part).join(': ');
        let cell = badge(service.status, STATE_COLOURS[service.status] ?? 'grey', why);
        const counted = service.counted;
        if (counted && counted.state !== service.status) {
            // Flap control: the raw result differs from what decides, N of the runs needed so far.
            cell += ` ${escapeHtml(t.counts)} ${badge(counted.state, STATE_COLOURS[counted.state], '')} ${counted.streak}/${counted.needed}`;
        }
        if (why !== '') {
            cell += ` <small class="carpservicestatus-why">${escapeHtml(why)}</small>`;
        }
        return cell;
    }

    async onWidgetTick() {
        const t = this.translations;
        const status = await this.ajaxCall('/api/carpservicestatus/service/daemon_status');
        if (!this.dataChanged('status', status)) {
            return;
        }
        if (!status || !Array.isArray(status.services)) {
            const message = status && status.message ? status.message : t.nodaemon;
            this.showMessage(`<a href="/ui/carpservicestatus/">${escapeHtml(message)}</a>`);
            return;
        }
        $('#carpservicestatus-message').hide();
        $('#carpservicestatus-table').show();

        const rows = [
            [escapeHtml(t.demotion), this.demotionCell(status)],
            [escapeHtml(t.promotion), this.promotionCell(status)],
        ];
        if (status.maintenance) {
            rows.push([escapeHtml(t.maintenance), this.maintenanceCell(status.maintenance)]);
        }
        for (const anomaly of status.anomalies ?? []) {
            rows.push([escapeHtml(t.anomaly), escapeHtml(anomaly)]);
        }
        if (status.services.length === 0) {
            rows.push([escapeHtml(t.checks), `<a href="/ui/carpservicestatus/">${escapeHtml(t.nochecks)} ${escapeHtml(status.hooksDir)}</a>`]);
        }
        for (const service of status.services) {
            rows.push([escapeHtml(service.name), this.checkCell(service)]);
        }
        this.updateTable('carpservicestatus-table', rows);
    }
}

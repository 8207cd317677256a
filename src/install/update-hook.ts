/**
 * The firmware update hook install writes with --replace-stock, in rc.syshook.d/update/: after a
 * core update has put the stock script back over our shim, it puts the shim back. A template like
 * the others (templates.ts), kept in its own file.
 */
import { NODE_PATHS, type NodePaths } from "./layout.ts";
import { fillTemplate, SHIM_MARKER } from "./templates.ts";

/** The flag of `install` the hook runs: only the shim, put back through the journal. */
export const AFTER_FIRMWARE_UPDATE = "after-firmware-update";

// Core's package runs "/usr/local/etc/rc.syshook update" as the last step of every install or
// upgrade of core (its +POST_INSTALL, with configd started), which runs each file of
// rc.syshook.d/update/ in name order, with no arguments, and reports a non-zero exit status as an
// error in the update's output. head/grep test what isShim tests: the marker on one of the first
// three lines.
const UPDATE_HOOK = `#!/bin/sh
# carp-service-status: firmware update hook, installed by "carp-service-status install --replace-stock".
#
# A core update (or a reinstall) puts the stock %%STOCK%% back in place of
# our shim; core's package then runs "rc.syshook update", which runs this script. It puts the shim
# back, keeping the new stock script aside in place of the copy kept before, so that
# "carp-service-status uninstall" restores the newest one. The executable does it through
# install's journal: the new stock script is kept before one rename puts the shim in its place, so
# carp_service_status works at every moment, wherever this is cut short.
#
# Safe to run any number of times: with the shim in place it does nothing, and nothing either when
# the executable is gone (uninstalled, or removed by hand): the shim would have nothing to call.

shim_in_place() {
	head -n 3 %%STOCK%% 2>/dev/null | grep -qxF '%%MARKER%%'
}

[ -x %%BINARY%% ] || exit 0
shim_in_place && exit 0
if ! %%BINARY%% install --%%FLAG%%; then
	%%LOGGER%% -t carp-service-status -p daemon.err "the firmware update put the stock %%STOCK%% back and the shim could not replace it again: the stock script runs, not the daemon; run carp-service-status install --replace-stock"
	exit 1
fi
if shim_in_place; then
	%%LOGGER%% -t carp-service-status -p daemon.notice "the firmware update put the stock %%STOCK%% back: the shim is in its place again, and the new stock script is kept for uninstall"
fi
exit 0
`;

/** The rc.syshook.d/update script: after a firmware update, the shim goes back in place of the stock script. */
export function renderUpdateHook(paths: NodePaths = NODE_PATHS): string {
  return fillTemplate(UPDATE_HOOK, {
    BINARY: paths.binary,
    STOCK: paths.stockScript,
    MARKER: SHIM_MARKER,
    LOGGER: paths.logger,
    FLAG: AFTER_FIRMWARE_UPDATE,
  });
}

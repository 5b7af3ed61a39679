/**
 * The registry of command groups: the one place that says which groups a modem has, in the
 * order they are built (a group's `needs` come from groups before it). The modem and the
 * generated command reference and coverage both read this list.
 */
import type { CommandGroup } from './service.js';
import { systemGroup } from './services/system.js';
import { networkGroup } from './services/network.js';
import { pdpGroup } from './services/pdp.js';
import { fsGroup } from './services/fs.js';
import { sslGroup } from './services/ssl.js';
import { mqttGroup } from './services/mqtt.js';
import { tcpipGroup } from './services/tcpip.js';
import { smsGroup } from './services/sms.js';
import { phoneGroup } from './services/phone.js';
import { linesGroup } from './services/lines.js';

export const COMMAND_GROUPS: readonly CommandGroup[] = [systemGroup, networkGroup, pdpGroup, fsGroup, sslGroup, mqttGroup, tcpipGroup, smsGroup, phoneGroup, linesGroup];

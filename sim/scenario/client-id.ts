/**
 * The MQTT client id the modem presents, as the host set it: the last AT+MCONFIG line the
 * modem ran, else the IMEI (the module's default); a reboot forgets it, as the module does.
 * The `tcpDrop` fault needs it to tell the broker which connection to cut.
 */
import type { Modem } from '../modem.js';
import { parseCommandLine, splitParams } from '../../protocol/parse.js';

export class ClientIdTracker {
  private id: string;

  constructor(modem: Modem) {
    this.id = modem.profile.identity.imei;
    modem.trace.onRecord((r) => {
      if (r.ev === 'boot') this.id = modem.profile.identity.imei;
      else if (r.ev === 'cmd') this.onCommandLine(r.line);
    });
  }

  get current(): string {
    return this.id;
  }

  private onCommandLine(line: string): void {
    const parsed = parseCommandLine(line);
    if (!parsed.ok) return;
    for (const c of parsed.commands) {
      if (c.name !== '+MCONFIG' || c.form !== 'set') continue;
      const first = splitParams(c.args)?.[0];
      if (first !== undefined && first.text !== '') this.id = first.text;
    }
  }
}

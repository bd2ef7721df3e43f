// Which transient-object and session handles came and went during one command, as the object
// and session tables record them. The Tpm reads it to keep each connection's resource-manager
// context exact without snapshotting every table before and after every command.

export class HandleJournal {
  added: number[] = [];
  removed: number[] = [];

  reset(): void {
    if (this.added.length) this.added = [];
    if (this.removed.length) this.removed = [];
  }
}

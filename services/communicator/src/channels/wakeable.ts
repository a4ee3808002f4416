/** A sleep that ends early on wake(): pollers wait on it between rounds. */
export class Wakeable {
  private waiters = new Set<() => void>();
  private pending = false;

  wake(): void {
    if (this.waiters.size === 0) {
      // Remember a wake that arrives while nobody sleeps, so it is not lost.
      this.pending = true;
      return;
    }
    for (const w of [...this.waiters]) w();
  }

  /** Sleeps up to ms; returns early on wake() or when `done()` turns true (checked every 200 ms). */
  sleep(ms: number, done: () => boolean = () => false): Promise<void> {
    if (this.pending || done()) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        clearInterval(check);
        this.waiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      const check = setInterval(() => {
        if (done()) finish();
      }, 200);
      this.waiters.add(finish);
    });
  }
}

// Test-only preload (`node --import`): SIGKILLs the drillbook process the instant its run
// journal has fsynced the `close` line, i.e. after "teardown complete" and before the seal.
// This is the kill point of issue 13 finding 7, reached deterministically through the real CLI.
import fs from 'node:fs';

const writeSync = fs.writeSync;
const fsyncSync = fs.fsyncSync;
let closeFd = -1;
fs.writeSync = function patchedWriteSync(fd, data, ...rest) {
  if (typeof data === 'string' && data.startsWith('{"t":"close"')) closeFd = fd;
  return writeSync.call(this, fd, data, ...rest);
};
fs.fsyncSync = function patchedFsyncSync(fd) {
  fsyncSync.call(this, fd);
  if (fd === closeFd) process.kill(process.pid, 'SIGKILL');
};

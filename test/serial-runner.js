// Jest's own runner, one test file at a time: Jest 30 has no per-project maxWorkers, but it runs the tests of a
// runner that says `isSerial` in band, while the other projects keep their workers.
import TestRunner from 'jest-runner';

export default class SerialRunner extends TestRunner {
  isSerial = true;
}

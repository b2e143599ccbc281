package io.skymesh.nameserver.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import io.skymesh.nameserver.FsyncPolicy;
import io.skymesh.proto.KvEntry;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.util.concurrent.Queues;

/**
 * The embedded store's data directory: a snapshot file and an append-only log, both a sequence of
 * records {@code [u32 length][u32 CRC-32C of the payload][payload]}. The durable state is the KV
 * entries, a revision ceiling and a term ceiling (see {@code README.md}, "Data directory").
 *
 * <p>{@link #open} reads the directory at start-up on the calling thread (which may block). After
 * that the writer appends records without blocking ({@link #append} hands them over through a
 * lock-free queue) and a thread of the log's own ({@code skymesh-nameserver-log}) writes them,
 * forces them to the disk according to the {@link FsyncPolicy}, and reports the highest sequence
 * number written through the {@code written} callback, once per batch.
 */
final class DataLog {

  private static final Logger log = LoggerFactory.getLogger(DataLog.class);

  static final String SNAPSHOT = "snapshot";
  static final String LOG = "log";
  static final String LOCK = "lock";

  /** The format of both files; the first record of each says it. */
  static final int FORMAT = 1;

  private static final byte HEADER = 0;
  private static final byte KV_PUT = 1;
  private static final byte KV_DELETE = 2;
  private static final byte REVISION_CEILING = 3;
  private static final byte TERM_CEILING = 4;

  /** A record's length prefix and CRC. */
  private static final int FRAMING = 8;

  /** Larger records are garbage (a torn length); a KV record is at most a value plus a key. */
  private static final int MAX_RECORD = 64 << 20;

  /** What the directory held at start-up. */
  record Recovered(
      TreeMap<String, KvEntry> kv, long revision, long termFloor, long logBytes, long cutBytes) {}

  /** A command for the log thread: records to append, or a snapshot to write. */
  private record Command(long seq, byte[] record, Snapshot snapshot) {}

  /** The durable state at one revision, to write as the new snapshot. */
  record Snapshot(
      long revision, long revisionCeiling, long termCeiling, Collection<KvEntry> entries) {}

  private final Path directory;
  private final FsyncPolicy policy;
  private final long fsyncIntervalNanos;
  private final Queue<Command> commands = Queues.<Command>unboundedMultiproducer().get();
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private FileChannel channel;
  private FileChannel lockChannel;
  private volatile LongConsumer written = seq -> {};
  private volatile boolean closing;

  // Writer-confined.
  private long nextSeq;
  private long appendedBytes;

  // Log-thread-confined.
  private long lastForceNanos = System.nanoTime();
  private boolean dirty;

  private DataLog(
      Path directory,
      FsyncPolicy policy,
      long fsyncIntervalNanos,
      FileChannel channel,
      long logBytes) {
    this.directory = directory;
    this.policy = policy;
    this.fsyncIntervalNanos = fsyncIntervalNanos;
    this.channel = channel;
    this.appendedBytes = logBytes;
    this.thread = new Thread(this::run, "skymesh-nameserver-log");
    this.thread.setDaemon(true);
  }

  /**
   * Reads (or creates) the data directory, cuts a torn tail off the log, and returns the log ready
   * to append, with what it recovered. Blocking: call it off the event loops and the writer.
   *
   * @param initialRevision the revision of a new directory before its first change
   * @param revisionBlock how far the revision ceiling runs ahead of the revisions handed out
   * @param termBlock how far the term ceiling runs ahead of the terms handed out
   */
  static Opened open(
      Path directory,
      FsyncPolicy policy,
      long fsyncIntervalNanos,
      long initialRevision,
      long revisionBlock,
      long termBlock) {
    try {
      Files.createDirectories(directory);
      FileChannel lockChannel =
          FileChannel.open(
              directory.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      java.nio.channels.FileLock lock;
      try {
        lock = lockChannel.tryLock();
      } catch (java.nio.channels.OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        lockChannel.close();
        throw new IOException(
            "another name server is using it (expected: one server per directory)");
      }
      try {
        Opened opened =
            recover(
                directory, policy, fsyncIntervalNanos, initialRevision, revisionBlock, termBlock);
        opened.log().lockChannel = lockChannel;
        return opened;
      } catch (IOException | RuntimeException e) {
        // Releases the lock, so that this process may open the directory again once it is fixed.
        lockChannel.close();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("data directory " + directory + ": " + e.getMessage(), e);
    }
  }

  private static Opened recover(
      Path directory,
      FsyncPolicy policy,
      long fsyncIntervalNanos,
      long initialRevision,
      long revisionBlock,
      long termBlock)
      throws IOException {
    TreeMap<String, KvEntry> kv = new TreeMap<>();
    long[] state = {initialRevision, 0, 0}; // revision ceiling, term ceiling, snapshot revision
    Path snapshot = directory.resolve(SNAPSHOT);
    if (Files.exists(snapshot)) {
      byte[] bytes = Files.readAllBytes(snapshot);
      int end = replay(bytes, kv, state, Long.MIN_VALUE);
      if (end != bytes.length) {
        throw new IOException(
            snapshot
                + " is damaged at byte "
                + end
                + " of "
                + bytes.length
                + " (a snapshot is written whole and renamed into place, so this is not a torn"
                + " write); restore it from a backup or move the directory away");
      }
    }
    Path logFile = directory.resolve(LOG);
    byte[] bytes = Files.exists(logFile) ? Files.readAllBytes(logFile) : new byte[0];
    int end = replay(bytes, kv, state, state[2]);
    long cut = bytes.length - end;
    FileChannel channel =
        FileChannel.open(
            logFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
    if (cut > 0) {
      log.warn(
          "{}: cut a torn or damaged tail of {} bytes at byte {} (a record that was being"
              + " written when the process stopped; it was never acknowledged unless fsync is"
              + " 'never' and the machine lost power)",
          logFile,
          cut,
          end);
      channel.truncate(end);
      channel.force(true);
    }
    channel.position(end);
    long revision = Math.max(state[0], maxRevision(kv));
    long termFloor = state[1];
    DataLog dataLog = new DataLog(directory, policy, fsyncIntervalNanos, channel, end);
    if (end == 0) {
      dataLog.writeNow(header());
    }
    // Ceilings for this run, durable before the first change is handed out: nothing this run
    // hands out up to them can be reused after a crash.
    long revisionCeiling = revision + revisionBlock;
    long termCeiling = termFloor + termBlock;
    dataLog.writeNow(revisionCeiling(revisionCeiling));
    dataLog.writeNow(termCeiling(termCeiling));
    dataLog.channel.force(true);
    forceDirectory(directory);
    return new Opened(
        dataLog,
        new Recovered(kv, revision, termFloor, dataLog.channel.position(), cut),
        revisionCeiling,
        termCeiling);
  }

  /** The log and what {@link #open} found. */
  record Opened(DataLog log, Recovered recovered, long revisionCeiling, long termCeiling) {}

  /** Starts the log thread; {@code written} hears the highest sequence written after each batch. */
  void start(LongConsumer written) {
    this.written = written;
    thread.start();
  }

  // ---------------------------------------------------------------------------------------------
  // Writer side: never blocks.

  /** Appends a KV put; returns its sequence number. */
  long putKv(KvEntry entry) {
    byte[] body = entry.toByteArray();
    byte[] record = new byte[body.length + 1];
    record[0] = KV_PUT;
    System.arraycopy(body, 0, record, 1, body.length);
    return append(record);
  }

  /** Appends a KV delete; returns its sequence number. */
  long deleteKv(String key, long revision) {
    return append(deleteRecord(key, revision));
  }

  /** Appends a new revision ceiling. */
  long revisionCeilingRaised(long ceiling) {
    return append(revisionCeiling(ceiling));
  }

  /** Appends a new term ceiling. */
  long termCeilingRaised(long ceiling) {
    return append(termCeiling(ceiling));
  }

  /** Whether the log has grown past {@code bytes} since its last snapshot. */
  boolean grownPast(long bytes) {
    return appendedBytes > bytes;
  }

  /** Writes {@code snapshot} as the new snapshot file and starts an empty log after it. */
  void snapshot(Snapshot snapshot) {
    appendedBytes = 0;
    commands.offer(new Command(++nextSeq, null, snapshot));
    LockSupport.unpark(thread);
  }

  private long append(byte[] record) {
    long seq = ++nextSeq;
    appendedBytes += record.length + FRAMING;
    commands.offer(new Command(seq, record, null));
    LockSupport.unpark(thread);
    return seq;
  }

  // ---------------------------------------------------------------------------------------------
  // The log thread.

  private void run() {
    try {
      while (true) {
        Command command = commands.poll();
        if (command == null) {
          if (dirty
              && policy == FsyncPolicy.INTERVAL
              && System.nanoTime() - lastForceNanos >= fsyncIntervalNanos) {
            force();
          }
          if (closing && commands.isEmpty()) {
            break;
          }
          LockSupport.parkNanos(this, dirty ? fsyncIntervalNanos : TimeUnit.SECONDS.toNanos(1));
          continue;
        }
        long last = 0;
        List<byte[]> batch = new ArrayList<>();
        do {
          if (command.snapshot != null) {
            flush(batch);
            writeSnapshot(command.snapshot);
          } else {
            batch.add(command.record);
          }
          last = command.seq;
        } while ((command = commands.poll()) != null);
        flush(batch);
        if (policy == FsyncPolicy.ALWAYS) {
          force();
        }
        written.accept(last);
      }
      force();
      channel.close();
    } catch (IOException | RuntimeException e) {
      log.error(
          "The name server's data directory {} failed; changes are no longer written",
          directory,
          e);
      written.accept(-1);
    } finally {
      stopped.countDown();
    }
  }

  private void flush(List<byte[]> batch) throws IOException {
    if (batch.isEmpty()) {
      return;
    }
    int size = 0;
    for (byte[] record : batch) {
      size += record.length + FRAMING;
    }
    ByteBuffer buffer = ByteBuffer.allocate(size);
    for (byte[] record : batch) {
      frame(buffer, record);
    }
    buffer.flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    batch.clear();
    dirty = true;
  }

  private void force() throws IOException {
    if (dirty) {
      channel.force(false);
      dirty = false;
    }
    lastForceNanos = System.nanoTime();
  }

  private void writeSnapshot(Snapshot snapshot) throws IOException {
    Path temporary = directory.resolve(SNAPSHOT + ".tmp");
    try (FileChannel out =
        FileChannel.open(
            temporary,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      List<byte[]> records = new ArrayList<>();
      records.add(header(snapshot.revision()));
      records.add(revisionCeiling(snapshot.revisionCeiling()));
      records.add(termCeiling(snapshot.termCeiling()));
      for (KvEntry entry : snapshot.entries()) {
        byte[] body = entry.toByteArray();
        byte[] record = new byte[body.length + 1];
        record[0] = KV_PUT;
        System.arraycopy(body, 0, record, 1, body.length);
        records.add(record);
      }
      for (byte[] record : records) {
        ByteBuffer buffer = ByteBuffer.allocate(record.length + FRAMING);
        frame(buffer, record);
        buffer.flip();
        while (buffer.hasRemaining()) {
          out.write(buffer);
        }
      }
      out.force(true);
    }
    try {
      Files.move(
          temporary,
          directory.resolve(SNAPSHOT),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temporary, directory.resolve(SNAPSHOT), StandardCopyOption.REPLACE_EXISTING);
    }
    forceDirectory(directory);
    // The snapshot says which revision it covers, so a crash before this truncation only makes the
    // next start skip the old log's records again.
    channel.truncate(0);
    channel.position(0);
    writeNow(header());
    channel.force(true);
    dirty = false;
  }

  /**
   * Stops the log thread after it has written every record appended so far, and forces the log to
   * the disk. Blocking.
   */
  void close() {
    closing = true;
    try {
      if (thread.getState() != Thread.State.NEW) {
        LockSupport.unpark(thread);
        stopped.await();
      } else {
        channel.close();
      }
      lockChannel.close();
    } catch (IOException e) {
      log.warn("Closing the log of {} failed", directory, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The format.

  private void writeNow(byte[] record) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(record.length + FRAMING);
    frame(buffer, record);
    buffer.flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }

  private static void frame(ByteBuffer buffer, byte[] record) {
    CRC32C crc = new CRC32C();
    crc.update(record, 0, record.length);
    buffer.putInt(record.length);
    buffer.putInt((int) crc.getValue());
    buffer.put(record);
  }

  private static byte[] header() {
    return header(0);
  }

  /** The first record of a file: the format, and for a snapshot the revision it covers. */
  private static byte[] header(long coveredRevision) {
    return ByteBuffer.allocate(1 + 4 + 8)
        .put(HEADER)
        .putInt(FORMAT)
        .putLong(coveredRevision)
        .array();
  }

  private static byte[] revisionCeiling(long ceiling) {
    return ByteBuffer.allocate(9).put(REVISION_CEILING).putLong(ceiling).array();
  }

  private static byte[] termCeiling(long ceiling) {
    return ByteBuffer.allocate(9).put(TERM_CEILING).putLong(ceiling).array();
  }

  private static byte[] deleteRecord(String key, long revision) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(key.length() + 16);
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(KV_DELETE);
      out.writeLong(revision);
      out.write(key.getBytes(StandardCharsets.UTF_8));
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Applies every whole, intact record of {@code bytes} to {@code kv} and {@code state}; returns
   * where the first torn or damaged record starts (the length if there is none). Log records at or
   * below {@code coveredRevision} are already in the snapshot and skipped.
   */
  static int replay(byte[] bytes, TreeMap<String, KvEntry> kv, long[] state, long coveredRevision)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    int good = 0;
    boolean first = true;
    while (buffer.remaining() >= FRAMING) {
      int length = buffer.getInt();
      int crc = buffer.getInt();
      if (length <= 0 || length > MAX_RECORD || length > buffer.remaining()) {
        break;
      }
      CRC32C check = new CRC32C();
      check.update(bytes, buffer.position(), length);
      if ((int) check.getValue() != crc) {
        break;
      }
      byte[] record = new byte[length];
      buffer.get(record);
      if (first && record[0] != HEADER) {
        throw new IOException("not a name-server data file (no header record)");
      }
      first = false;
      apply(record, kv, state, coveredRevision);
      good = buffer.position();
    }
    return good;
  }

  private static void apply(
      byte[] record, TreeMap<String, KvEntry> kv, long[] state, long coveredRevision)
      throws IOException {
    ByteBuffer body = ByteBuffer.wrap(record, 1, record.length - 1);
    switch (record[0]) {
      case HEADER -> {
        int format = body.getInt();
        if (format != FORMAT) {
          throw new IOException(
              "data format " + format + " is not read by this server (expected: " + FORMAT + ")");
        }
        long covered = body.getLong();
        state[2] = Math.max(state[2], covered);
      }
      case KV_PUT -> {
        KvEntry entry;
        try {
          entry = KvEntry.parseFrom(ByteBuffer.wrap(record, 1, record.length - 1));
        } catch (InvalidProtocolBufferException e) {
          throw new IOException("a KV record with an intact CRC does not parse", e);
        }
        if (entry.getModRevision() > coveredRevision) {
          kv.put(entry.getKey(), entry);
        }
      }
      case KV_DELETE -> {
        DataInputStream in =
            new DataInputStream(new java.io.ByteArrayInputStream(record, 1, record.length - 1));
        long revision = in.readLong();
        String key = new String(record, 9, record.length - 9, StandardCharsets.UTF_8);
        if (revision > coveredRevision) {
          kv.remove(key);
        }
      }
      case REVISION_CEILING -> state[0] = Math.max(state[0], body.getLong());
      case TERM_CEILING -> state[1] = Math.max(state[1], body.getLong());
      default -> throw new IOException("unknown record type " + record[0]);
    }
  }

  private static long maxRevision(TreeMap<String, KvEntry> kv) {
    long max = 0;
    for (KvEntry entry : kv.values()) {
      max = Math.max(max, entry.getModRevision());
    }
    return max;
  }

  private static void forceDirectory(Path directory) {
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Not every platform can open a directory; the rename is still atomic.
      log.debug("Could not force directory {}: {}", directory, e.toString());
    }
  }
}

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.h2.mvstore.MVStore;

/**
 * A MongoDB-wire server for machines without mongod: mongo-java-server on its H2 (MVStore
 * file) backend, so data survives a restart. Usage: HOST PORT DATA_FILE.
 *
 * The store's maps are typed by StoredValueType (CompactBackend): documents and index keys are
 * written as tagged fields, not with Java serialization, and index keys are compared without
 * being serialized. A file in the stock format is copied into this one on first start
 * (StoreFile); MONGO_STORE_FORMAT=java-serialized runs the stock backend, for comparison and
 * for the test of that copy.
 *
 * Pages of 4 KiB (MONGO_PAGE_SPLIT_SIZE; MVStore's default is 16 KiB). MVStore writes every page
 * an insert touched again, whole, at each commit. Message and slot keys are hashes, so with a
 * large collection nearly every insert touches pages of its own: smaller pages mean less written
 * again per insert (docs/benchmarks.md). Existing pages keep their size until they split.
 *
 * Old chunks are kept 10 minutes (MONGO_RETENTION_MS; MVStore's default is 45 s) before their
 * space may be written again. A read walks the version of the store it started on; a read that
 * outlives the retention (a one-time migration's pass over a million messages) otherwise fails
 * with "Chunk N not found" once compaction has reused its chunks.
 *
 * Chunks are compacted toward a fill rate of 50% (MONGO_FILL_RATE; MVStore's default is 90).
 * With hashed keys every commit leaves live pages scattered over older chunks, and at 90% the
 * background writer kept reading and writing them again while the store was busy: that took a
 * fifth of the server's CPU at 1,000 inserts/s. At 50% it compacts only when the store is idle,
 * and the file holds up to twice its live data (docs/benchmarks.md).
 *
 * What must be guarded, and how. mongo-java-server does not make a single-document update
 * atomic against concurrent ones on the same collection, and its replies can share documents
 * with the store, which a later update then changes before the reply is encoded
 * (findAndModify with $inc handed the same value to several callers). MongoDB promises both,
 * and the cluster relies on them (atomic claims, conditional and forward-only updates). Both
 * are about one collection: so each command on a collection runs under that collection's
 * lock, with its reply deep-copied before the lock is let go, and commands on different
 * collections run side by side (a history read no longer waits for an AutoMessage claim).
 * Everything else (database and server commands, creating or dropping a collection, legacy
 * OP_QUERY, cursor bookkeeping on close) takes an exclusive lock over all collections.
 */
public final class MongoWireServer {
  /** Commands whose first field names the collection they work on. */
  private static final Set<String> COLLECTION_COMMANDS = Set.of(
      "find", "insert", "update", "delete", "findAndModify", "findandmodify", "count", "distinct",
      "aggregate", "createIndexes", "listIndexes", "killCursors");
  private static final Set<String> EXCLUSIVE = Set.of("handleCommand", "handleQuery", "dropDatabase", "closeCursors", "handleClose");

  private final MongoBackend backend;
  /** Read: one collection's command (plus that collection's monitor). Write: everything else. */
  private final ReentrantReadWriteLock all = new ReentrantReadWriteLock();
  private final Map<String, Object> collectionLocks = new ConcurrentHashMap<>();
  /** Collections known to exist: a command on any other may create it, which is exclusive. */
  private final Set<String> known = ConcurrentHashMap.newKeySet();

  private MongoWireServer(MongoBackend backend) {
    this.backend = backend;
  }

  private static Object deepCopy(Object value) {
    if (value instanceof Document doc) {
      Document copy = new Document();
      for (Map.Entry<String, Object> e : doc.entrySet()) copy.put(e.getKey(), deepCopy(e.getValue()));
      return copy;
    }
    if (value instanceof List<?> list) {
      List<Object> copy = new ArrayList<>(list.size());
      for (Object item : list) copy.add(deepCopy(item));
      return copy;
    }
    return value;
  }

  /** `db.collection` an OP_MSG command works on, or null when it is not about one collection. */
  private static String collectionOf(MongoMessage message) {
    Document doc = message.getDocument();
    if (doc.isEmpty()) return null;
    String command = doc.keySet().iterator().next();
    Object target = COLLECTION_COMMANDS.contains(command) ? doc.get(command) : "getMore".equals(command) ? doc.get("collection") : null;
    return target instanceof String name ? message.getDatabaseName() + "." + name : null;
  }

  private Object invoke(Method method, Object[] args) throws Throwable {
    try {
      return method.invoke(backend, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** Whether `db.collection` exists now (then later commands on it cannot create it). */
  private boolean exists(String database, String qualified) {
    try {
      return backend.resolveDatabase(database).resolveCollection(qualified.substring(database.length() + 1), false) != null;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private Object exclusive(Method method, Object[] args) throws Throwable {
    all.writeLock().lock();
    try {
      return deepCopy(invoke(method, args));
    } finally {
      all.writeLock().unlock();
    }
  }

  private Object handle(Method method, Object[] args) throws Throwable {
    String name = method.getName();
    if ("handleMessage".equals(name)) {
      MongoMessage message = (MongoMessage) args[0];
      String collection = collectionOf(message);
      String command = message.getDocument().isEmpty() ? "" : message.getDocument().keySet().iterator().next();
      if (collection == null || !known.contains(collection)) {
        all.writeLock().lock();
        try {
          Object reply = deepCopy(invoke(method, args));
          if ("drop".equals(command) || "dropDatabase".equals(command) || "renameCollection".equals(command)) known.clear();
          else if (collection != null && exists(message.getDatabaseName(), collection)) known.add(collection);
          return reply;
        } finally {
          all.writeLock().unlock();
        }
      }
      all.readLock().lock();
      try {
        synchronized (collectionLocks.computeIfAbsent(collection, k -> new Object())) {
          return deepCopy(invoke(method, args));
        }
      } finally {
        all.readLock().unlock();
      }
    }
    if (EXCLUSIVE.contains(name)) {
      Object reply = exclusive(method, args);
      if ("dropDatabase".equals(name)) known.clear();
      return reply;
    }
    return invoke(method, args);
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MongoWireServer HOST PORT DATA_FILE");
      System.exit(2);
    }
    int pageSplitSize = Integer.parseInt(System.getenv().getOrDefault("MONGO_PAGE_SPLIT_SIZE", "4096"));
    String format = System.getenv().getOrDefault("MONGO_STORE_FORMAT", "compact");
    if (!format.equals("compact") && !format.equals("java-serialized")) {
      System.err.println("MONGO_STORE_FORMAT must be compact or java-serialized, not " + format);
      System.exit(2);
    }
    boolean stock = format.equals("java-serialized");
    Path file = Path.of(args[2]);
    MVStore store = stock ? StoreFile.openStock(file, pageSplitSize) : StoreFile.openCompact(file, pageSplitSize);
    store.setRetentionTime(Integer.parseInt(System.getenv().getOrDefault("MONGO_RETENTION_MS", "600000")));
    H2Backend h2 = stock ? new H2Backend(store) : new CompactBackend(store);
    MongoWireServer guard = new MongoWireServer(h2);
    MongoBackend guarded = (MongoBackend) Proxy.newProxyInstance(
        MongoBackend.class.getClassLoader(),
        new Class<?>[] {MongoBackend.class},
        (proxy, method, methodArgs) -> guard.handle(method, methodArgs));
    MongoServer server = new MongoServer(guarded);
    server.bind(args[0], Integer.parseInt(args[1]));
    System.out.println("mongo-wire ready: listening on " + args[0] + ":" + args[1] + " data=" + args[2] + " format=" + (stock ? "java-serialized" : StoreFile.COMPACT));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdownNow();
      h2.close();
    }));
    Thread.currentThread().join();
  }
}

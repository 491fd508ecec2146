import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A MongoDB-wire server for machines without mongod: mongo-java-server on its H2 (MVStore
 * file) backend, so data survives a restart. Usage: HOST PORT DATA_FILE.
 *
 * Every command runs under one lock, and its reply is deep-copied before the lock is let go.
 * mongo-java-server does not make a single-document update atomic against concurrent ones,
 * and its replies can share documents with the store, which a later update then changes
 * before the reply is encoded (findAndModify with $inc handed the same value to several
 * callers). The cluster relies on atomic claims and conditional updates, as MongoDB
 * guarantees. Commands are in-memory operations of microseconds to a few milliseconds, so
 * one lock costs little at development scale.
 */
public final class MongoWireServer {
  private static final Set<String> SERIALIZED = Set.of("handleCommand", "handleQuery", "handleMessage", "dropDatabase", "closeCursors", "handleClose");

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

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MongoWireServer HOST PORT DATA_FILE");
      System.exit(2);
    }
    H2Backend h2 = new H2Backend(args[2]);
    Object lock = new Object();
    MongoBackend serialized = (MongoBackend) Proxy.newProxyInstance(
        MongoBackend.class.getClassLoader(),
        new Class<?>[] {MongoBackend.class},
        (proxy, method, methodArgs) -> {
          try {
            if (SERIALIZED.contains(method.getName())) {
              synchronized (lock) {
                return deepCopy(method.invoke(h2, methodArgs));
              }
            }
            return method.invoke(h2, methodArgs);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    MongoServer server = new MongoServer(serialized);
    server.bind(args[0], Integer.parseInt(args[1]));
    System.out.println("mongo-wire ready: listening on " + args[0] + ":" + args[1] + " data=" + args[2]);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdownNow();
      h2.close();
    }));
    Thread.currentThread().join();
  }
}

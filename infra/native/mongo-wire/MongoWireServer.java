import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

/**
 * A MongoDB-wire-compatible server for machines without mongod: mongo-java-server with its
 * H2 (MVStore file) backend, so data survives a restart. Usage: HOST PORT DATA_FILE.
 */
public final class MongoWireServer {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MongoWireServer HOST PORT DATA_FILE");
      System.exit(2);
    }
    H2Backend backend = new H2Backend(args[2]);
    MongoServer server = new MongoServer(backend);
    server.bind(args[0], Integer.parseInt(args[1]));
    System.out.println("mongo-wire listening on " + args[0] + ":" + args[1]);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdownNow();
      backend.close();
    }));
    Thread.currentThread().join();
  }
}

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Set;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * The store's file, and which of the two formats it is in.
 *
 * - compact (the default): every map typed by StoredValueType. The file holds a map named
 *   FORMAT_MAP saying so.
 * - stock: mongo-java-server's own H2 backend (Java serialization), what the launcher wrote
 *   before. Opening such a file in the compact format first copies it, map by map, into
 *   `<file>.migrating`, then keeps the original as `<file>.java-serialized` and puts the copy in
 *   its place. A crash during the copy leaves the original untouched (the copy starts again);
 *   a crash between the two renames is finished on the next start.
 */
final class StoreFile {
  static final String FORMAT_MAP = "chat-cluster.store-format";
  static final String COMPACT = "compact-1";

  private StoreFile() {}

  private static MVStore open(Path file, int pageSplitSize, boolean readOnly) {
    MVStore.Builder builder = new MVStore.Builder()
        .fileName(file.toString())
        .pageSplitSize(pageSplitSize)
        .autoCompactFillRate(Integer.parseInt(System.getenv().getOrDefault("MONGO_FILL_RATE", "50")));
    return (readOnly ? builder.readOnly() : builder).open();
  }

  /** Whether a file is a finished copy in the compact format (its marker is written last). */
  private static boolean isCompact(Path file) {
    MVStore store = open(file, 4096, true);
    try {
      return store.hasMap(FORMAT_MAP);
    } finally {
      store.close();
    }
  }

  static MVStore openCompact(Path file, int pageSplitSize) throws IOException {
    Path migrating = file.resolveSibling(file.getFileName() + ".migrating");
    if (!Files.exists(file) && Files.exists(migrating) && isCompact(migrating)) {
      Files.move(migrating, file, StandardCopyOption.ATOMIC_MOVE);
    }
    MVStore store = open(file, pageSplitSize, false);
    Set<String> names = store.getMapNames();
    if (!names.contains(FORMAT_MAP) && !names.isEmpty()) {
      // The stock format: copy it over, keep the original beside, and open the copy.
      store.close();
      Files.deleteIfExists(migrating);
      migrate(file, migrating, pageSplitSize);
      Path kept = file.resolveSibling(file.getFileName() + ".java-serialized");
      if (Files.exists(kept)) kept = file.resolveSibling(file.getFileName() + ".java-serialized." + System.currentTimeMillis());
      Files.move(file, kept, StandardCopyOption.ATOMIC_MOVE);
      Files.move(migrating, file, StandardCopyOption.ATOMIC_MOVE);
      System.out.println("mongo-wire: the stock file is kept as " + kept + "; delete it once you no longer need it");
      store = open(file, pageSplitSize, false);
    }
    MVMap<String, String> format = store.openMap(FORMAT_MAP);
    if (!COMPACT.equals(format.get("format"))) {
      format.put("format", COMPACT);
      store.commit();
    }
    return store;
  }

  /** The stock format, only to write or read a file as the launcher did before (tests of the copy). */
  static MVStore openStock(Path file, int pageSplitSize) {
    MVStore store = open(file, pageSplitSize, false);
    if (store.hasMap(FORMAT_MAP)) {
      store.close();
      throw new IllegalStateException(file + " is in the compact format; the stock backend cannot read it");
    }
    return store;
  }

  private static void migrate(Path from, Path to, int pageSplitSize) {
    long started = System.nanoTime();
    long copied = 0;
    long lastReport = started;
    System.out.println("mongo-wire: copying " + from + " (Java-serialized) into the compact format");
    MVStore source = open(from, pageSplitSize, true);
    MVStore target = open(to, pageSplitSize, false);
    try {
      for (String name : source.getMapNames()) {
        MVMap<Object, Object> in = source.openMap(name);
        MVMap<Object, Object> out = CompactBackend.openMap(target, name);
        for (Map.Entry<Object, Object> entry : in.entrySet()) {
          out.put(entry.getKey(), entry.getValue());
          if (++copied % 100_000 == 0) {
            target.commit();
            long now = System.nanoTime();
            if (now - lastReport > 10_000_000_000L) {
              System.out.println("mongo-wire: copied " + copied + " entries");
              lastReport = now;
            }
          }
        }
      }
      MVMap<String, String> format = target.openMap(FORMAT_MAP);
      format.put("format", COMPACT);
      target.commit();
    } finally {
      target.close();
      source.close();
    }
    System.out.printf("mongo-wire: copied %d entries in %.1f s%n", copied, (System.nanoTime() - started) / 1e9);
  }
}

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractSynchronizedMongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.List;
import java.util.Map;
import org.h2.mvstore.FileStore;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.type.DataType;

/**
 * mongo-java-server's H2 backend with every map typed by StoredValueType: the same collections,
 * unique indexes and map names as the stock backend (so its query engine is unchanged), but
 * documents and keys are written compactly and index keys are compared without serializing
 * them. A file written by the stock backend cannot be read this way; StoreFile copies it over.
 */
final class CompactBackend extends H2Backend {
  /** The maps' name prefixes, as the stock backend names them. */
  static final String DATA_PREFIX = "databases.";
  static final String META_PREFIX = "meta.";

  CompactBackend(MVStore store) {
    super(store);
  }

  @Override
  protected MongoDatabase openOrCreateDatabase(String databaseName) {
    return new Database(databaseName, getMvStore(), getCursorRegistry());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static <K, V> MVMap<K, V> openMap(MVStore store, String name) {
    DataType type = StoredValueType.INSTANCE;
    return store.openMap(name, new MVMap.Builder<K, V>().keyType(type).valueType(type));
  }

  private static final class Database extends AbstractSynchronizedMongoDatabase<Object> {
    private final MVStore store;

    Database(String databaseName, MVStore store, CursorRegistry cursorRegistry) {
      super(databaseName, cursorRegistry);
      this.store = store;
      initializeNamespacesAndIndexes();
    }

    private String indexMap(String collectionName, String indexName) {
      return getFullCollectionNamespace(collectionName) + "._index_" + indexName;
    }

    @Override
    protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
      String name = getFullCollectionNamespace(collectionName);
      MVMap<Object, Document> data = openMap(store, DATA_PREFIX + name);
      MVMap<String, Object> meta = openMap(store, META_PREFIX + name);
      return new H2Collection(this, collectionName, options, data, meta, cursorRegistry);
    }

    @Override
    protected Index<Object> openOrCreateUniqueIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      return new UniqueIndex(openMap(store, indexMap(collectionName, indexName)), indexName, keys, sparse);
    }

    @Override
    protected void dropIndex(MongoCollection<Object> collection, String indexName) {
      super.dropIndex(collection, indexName);
      store.removeMap(indexMap(collection.getCollectionName(), indexName));
    }

    @Override
    public void dropCollection(String collectionName, Oplog oplog) {
      super.dropCollection(collectionName, oplog);
      String name = getFullCollectionNamespace(collectionName);
      store.removeMap(DATA_PREFIX + name);
      store.removeMap(META_PREFIX + name);
    }

    @Override
    public void drop(Oplog oplog) {
      super.drop(oplog);
      for (String name : List.copyOf(store.getMapNames())) {
        if (name.startsWith(databaseName + ".") || name.startsWith(DATA_PREFIX + databaseName + ".")
            || name.startsWith(META_PREFIX + databaseName + ".")) {
          store.removeMap(name);
        }
      }
    }

    @Override
    public void moveCollection(MongoDatabase oldDatabase, MongoCollection<?> collection, String newCollectionName) {
      super.moveCollection(oldDatabase, collection, newCollectionName);
      String from = collection.getFullName();
      String to = getFullCollectionNamespace(newCollectionName);
      store.renameMap(openMap(store, DATA_PREFIX + from), DATA_PREFIX + to);
      store.renameMap(openMap(store, META_PREFIX + from), META_PREFIX + to);
    }

    @Override
    protected long getStorageSize() {
      FileStore<?> file = store.getFileStore();
      return file == null ? 0 : file.size();
    }

    @Override
    protected long getFileSize() {
      return getStorageSize();
    }
  }

  /** A unique index: one map from the key to the document's position (its `_id`). */
  private static final class UniqueIndex extends AbstractUniqueIndex<Object> {
    private final MVMap<KeyValue, Object> map;

    UniqueIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
      super(name, keys, sparse);
      this.map = map;
    }

    @Override
    protected Object removeDocument(KeyValue key) {
      return map.remove(key);
    }

    @Override
    protected boolean putKeyPosition(KeyValue key, Object position) {
      return map.putIfAbsent(key, Missing.ofNullable(position)) == null;
    }

    @Override
    protected Iterable<Map.Entry<KeyValue, Object>> getIterable() {
      return map.entrySet();
    }

    @Override
    protected Object getPosition(KeyValue key) {
      return map.get(key);
    }

    @Override
    public long getCount() {
      return map.sizeAsLong();
    }

    @Override
    public boolean isEmpty() {
      return map.isEmpty();
    }

    @Override
    public long getDataSize() {
      return getCount();
    }
  }
}

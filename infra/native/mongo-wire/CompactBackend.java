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
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.h2.mvstore.Cursor;
import org.h2.mvstore.FileStore;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.type.DataType;

/**
 * mongo-java-server's H2 backend with every map typed by StoredValueType: the same collections,
 * unique indexes and map names as the stock backend (so its query engine is unchanged), but
 * documents and keys are written compactly and index keys are compared without serializing
 * them, and the `_id` index answers from the documents' own map (IdIndex). A file written by
 * the stock backend cannot be read this way; StoreFile copies it over.
 */
final class CompactBackend extends H2Backend {
  /** The maps' name prefixes, as the stock backend names them. */
  static final String DATA_PREFIX = "databases.";
  static final String META_PREFIX = "meta.";
  static final String ID_INDEX = "_id_";
  static final String ID_FIELD = "_id";
  /** Appended to the `_id` index's map name for the map of ids IdIndex does not find in the data map. */
  static final String OTHER_IDS_SUFFIX = ".other";

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
      if (indexName.equals(ID_INDEX) && keys.size() == 1 && keys.get(0).getKey().equals(ID_FIELD) && !sparse) {
        String name = getFullCollectionNamespace(collectionName);
        MVMap<Object, Document> data = openMap(store, DATA_PREFIX + name);
        return new IdIndex(data, otherIds(collectionName), indexName, keys);
      }
      return new UniqueIndex(openMap(store, indexMap(collectionName, indexName)), indexName, keys, sparse);
    }

    /**
     * The `_id` index's map of ids that are neither strings nor ObjectIds. A file written before
     * IdIndex holds every id in the stock index map instead: its other ids are copied over once,
     * then that map is removed (a crash in between copies them again on the next start).
     */
    private MVMap<KeyValue, Object> otherIds(String collectionName) {
      String stock = indexMap(collectionName, ID_INDEX);
      MVMap<KeyValue, Object> other = openMap(store, stock + OTHER_IDS_SUFFIX);
      if (store.hasMap(stock)) {
        long started = System.nanoTime();
        MVMap<KeyValue, Object> all = openMap(store, stock);
        other.clear();
        for (Cursor<KeyValue, Object> it = all.cursor(null); it.hasNext(); ) {
          KeyValue key = it.next();
          if (!IdIndex.inData(key)) other.put(key, it.getValue());
        }
        long ids = all.sizeAsLong();
        store.removeMap(all);
        System.out.printf("mongo-wire: %s: the _id index's copy of %d ids removed, %d kept apart (%d ms)%n",
            getFullCollectionNamespace(collectionName), ids, other.sizeAsLong(), (System.nanoTime() - started) / 1_000_000);
      }
      return other;
    }

    @Override
    protected void dropIndex(MongoCollection<Object> collection, String indexName) {
      super.dropIndex(collection, indexName);
      String map = indexMap(collection.getCollectionName(), indexName);
      store.removeMap(map);
      if (indexName.equals(ID_INDEX)) store.removeMap(map + OTHER_IDS_SUFFIX);
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

  /**
   * The `_id` index without a second copy of every id. The stock backend keeps each `_id` twice:
   * as the data map's key and again in the index's own map, so every insert wrote a page of each
   * (both keyed by hashed ids here, so a page per insert per map) and kept both in memory. A
   * string or ObjectId id is its own normalized index key and the data map's key, so this index
   * answers for those from the data map itself; any other id (a number, whose 1 and 1.0 are one
   * key to MongoDB, a document, null) keeps an entry in a map of its own, as the stock index did.
   *
   * The collection's own lock (the launcher's) orders checkAdd before the data map's put, so the
   * uniqueness check sees every earlier insert.
   */
  static final class IdIndex extends AbstractUniqueIndex<Object> {
    private final MVMap<Object, Document> data;
    private final MVMap<KeyValue, Object> other;

    IdIndex(MVMap<Object, Document> data, MVMap<KeyValue, Object> other, String name, List<IndexKey> keys) {
      super(name, keys, false);
      this.data = data;
      this.other = other;
    }

    /** Whether an index key is found as a key of the data map (the id itself) rather than in `other`. */
    static boolean inData(KeyValue key) {
      return key.size() == 1 && isPlain(key.get(0));
    }

    /** A string or an ObjectId: an id that is its own normalized index key. */
    private static boolean isPlain(Object id) {
      return id instanceof String || id instanceof ObjectId;
    }

    /**
     * Called after the collection has put the document into the data map: a string or ObjectId
     * id is indexed by that alone (checkAdd ran before the put). The stock add would check the
     * key again and find the document itself.
     */
    @Override
    public synchronized void add(Document document, Object position, MongoCollection<Object> collection) {
      if (getKeyValues(document).stream().allMatch(IdIndex::inData)) return;
      super.add(document, position, collection);
    }

    @Override
    protected Object removeDocument(KeyValue key) {
      if (!inData(key)) return other.remove(key);
      Object id = key.get(0);
      return data.containsKey(id) ? id : null;
    }

    @Override
    protected boolean putKeyPosition(KeyValue key, Object position) {
      // checkAdd has already looked the key up; the document is in the data map by now.
      if (inData(key)) return position.equals(key.get(0));
      return other.putIfAbsent(key, Missing.ofNullable(position)) == null;
    }

    @Override
    protected Iterable<Map.Entry<KeyValue, Object>> getIterable() {
      return () -> new Iterator<>() {
        private final Iterator<Object> ids = data.keyIterator(null);
        private final Iterator<Map.Entry<KeyValue, Object>> rest = other.entrySet().iterator();
        private Object nextId = advance();

        private Object advance() {
          while (ids.hasNext()) {
            Object id = ids.next();
            if (isPlain(id)) return id;
          }
          return null;
        }

        @Override
        public boolean hasNext() {
          return nextId != null || rest.hasNext();
        }

        @Override
        public Map.Entry<KeyValue, Object> next() {
          if (nextId == null) return rest.next();
          Object id = nextId;
          nextId = advance();
          return Map.entry(new KeyValue(id), id);
        }
      };
    }

    @Override
    protected Object getPosition(KeyValue key) {
      if (!inData(key)) return other.get(key);
      Object id = key.get(0);
      return data.containsKey(id) ? id : null;
    }

    @Override
    public long getCount() {
      return data.sizeAsLong();
    }

    @Override
    public boolean isEmpty() {
      return data.isEmpty();
    }

    @Override
    public long getDataSize() {
      return getCount();
    }
  }
}

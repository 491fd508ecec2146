import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonJavaScript;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Decimal128;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.LegacyUUID;
import de.bwaldvogel.mongo.bson.MaxKey;
import de.bwaldvogel.mongo.bson.MinKey;
import de.bwaldvogel.mongo.bson.ObjectId;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

/**
 * How the compact store writes every key and value of its maps: documents, `_id`s, index keys
 * (KeyValue) and counters, each as a tag byte and its fields, with no class descriptors.
 *
 * mongo-java-server's H2 backend leaves its maps to H2's generic type, which writes documents
 * and index keys with Java serialization (a class descriptor per object) and, since an index
 * key is not Comparable, compares two keys by serializing both, at every step of every B-tree
 * search. This type compares keys directly: in MongoDB's order of values (mongo-java-server's
 * ValueComparator), and, where that calls two different values equal (1 and 1.0L), by their
 * class and then their encoding, so two keys are the same key exactly when they are equal.
 * A type this codec does not know is written with Java serialization, so nothing is refused.
 */
final class StoredValueType extends BasicDataType<Object> {
  static final StoredValueType INSTANCE = new StoredValueType();

  private static final byte NULL = 0, MISSING = 1, STRING = 2, INT = 3, LONG = 4, DOUBLE = 5, TRUE = 6, FALSE = 7,
      INSTANT = 8, OBJECT_ID = 9, DOCUMENT = 10, LIST = 11, KEY_VALUE = 12, BIN_DATA = 13, UUID_VALUE = 14,
      LEGACY_UUID = 15, DECIMAL128 = 16, TIMESTAMP = 17, MIN_KEY = 18, MAX_KEY = 19, REGEX = 20, JAVASCRIPT = 21,
      UTF8_STRING = 22, UTF8_DOCUMENT = 23, SERIALIZED = 127;

  private static final ValueComparator ORDER = ValueComparator.ascWithoutListHandling();

  private StoredValueType() {}

  @Override
  public Object[] createStorage(int size) {
    return new Object[size];
  }

  @Override
  public void write(WriteBuffer out, Object value) {
    if (value == null) {
      out.put(NULL);
    } else if (value instanceof String s) {
      writeUtf8(out.put(UTF8_STRING), s);
    } else if (value instanceof Document doc) {
      out.put(UTF8_DOCUMENT).putVarInt(doc.size());
      for (Map.Entry<String, Object> e : doc.entrySet()) {
        writeUtf8(out, e.getKey());
        write(out, e.getValue());
      }
    } else if (value instanceof Integer i) {
      out.put(INT).putVarInt(i);
    } else if (value instanceof Long l) {
      out.put(LONG).putVarLong(l);
    } else if (value instanceof Double d) {
      out.put(DOUBLE).putDouble(d);
    } else if (value instanceof Boolean b) {
      out.put(b ? TRUE : FALSE);
    } else if (value instanceof Instant t) {
      out.put(INSTANT).putLong(t.getEpochSecond()).putInt(t.getNano());
    } else if (value instanceof ObjectId id) {
      out.put(OBJECT_ID).put(id.toByteArray());
    } else if (value instanceof KeyValue key) {
      out.put(KEY_VALUE).putVarInt(key.size());
      for (Object item : key) write(out, item);
    } else if (value instanceof List<?> list) {
      out.put(LIST).putVarInt(list.size());
      for (Object item : list) write(out, item);
    } else if (value instanceof Missing) {
      out.put(MISSING);
    } else if (value instanceof BinData bin) {
      byte[] data = bin.getData();
      out.put(BIN_DATA).putVarInt(data.length).put(data);
    } else if (value instanceof UUID uuid) {
      out.put(UUID_VALUE).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    } else if (value instanceof LegacyUUID legacy) {
      UUID uuid = legacy.getUuid();
      out.put(LEGACY_UUID).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
    } else if (value instanceof Decimal128 dec) {
      out.put(DECIMAL128).putLong(dec.getHigh()).putLong(dec.getLow());
    } else if (value instanceof BsonTimestamp ts) {
      out.put(TIMESTAMP).putLong(ts.getValue());
    } else if (value instanceof MinKey) {
      out.put(MIN_KEY);
    } else if (value instanceof MaxKey) {
      out.put(MAX_KEY);
    } else if (value instanceof BsonRegularExpression regex) {
      out.put(REGEX);
      writeString(out, regex.getPattern());
      writeString(out, regex.getOptions());
    } else if (value instanceof BsonJavaScript js) {
      out.put(JAVASCRIPT);
      writeString(out, js.getCode());
    } else {
      byte[] bytes = serialize(value);
      out.put(SERIALIZED).putVarInt(bytes.length).put(bytes);
    }
  }

  private static void writeString(WriteBuffer out, String s) {
    out.putVarInt(s.length()).putStringData(s, s.length());
  }

  /**
   * A string as its UTF-8 byte count and bytes. The JDK encodes and decodes an ASCII string
   * in one copy; H2's string data (STRING, DOCUMENT) goes a char at a time, each a bounds-checked
   * buffer put, and that was the largest part of the server's CPU under load: every commit
   * writes again every page an insert touched, keys and all (docs/benchmarks.md). Files written
   * before hold the older tags; both are read.
   */
  private static void writeUtf8(WriteBuffer out, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    out.putVarInt(bytes.length).put(bytes);
  }

  private static String readUtf8(ByteBuffer in) {
    int length = DataUtils.readVarInt(in);
    if (in.hasArray()) {
      int at = in.position();
      in.position(at + length);
      return new String(in.array(), in.arrayOffset() + at, length, StandardCharsets.UTF_8);
    }
    byte[] bytes = new byte[length];
    in.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }

  @Override
  public Object read(ByteBuffer in) {
    byte tag = in.get();
    switch (tag) {
      case NULL: return null;
      case MISSING: return Missing.getInstance();
      case UTF8_STRING: return readUtf8(in);
      case STRING: return DataUtils.readString(in);
      case INT: return DataUtils.readVarInt(in);
      case LONG: return DataUtils.readVarLong(in);
      case DOUBLE: return in.getDouble();
      case TRUE: return Boolean.TRUE;
      case FALSE: return Boolean.FALSE;
      case INSTANT: {
        long seconds = in.getLong();
        return Instant.ofEpochSecond(seconds, in.getInt());
      }
      case OBJECT_ID: {
        byte[] bytes = new byte[12];
        in.get(bytes);
        return new ObjectId(bytes);
      }
      case UTF8_DOCUMENT:
      case DOCUMENT: {
        int size = DataUtils.readVarInt(in);
        Document doc = new Document();
        for (int i = 0; i < size; i++) {
          String key = tag == UTF8_DOCUMENT ? readUtf8(in) : DataUtils.readString(in);
          doc.put(key, read(in));
        }
        return doc;
      }
      case LIST: {
        int size = DataUtils.readVarInt(in);
        List<Object> list = new ArrayList<>(size);
        for (int i = 0; i < size; i++) list.add(read(in));
        return list;
      }
      case KEY_VALUE: {
        int size = DataUtils.readVarInt(in);
        List<Object> values = new ArrayList<>(size);
        for (int i = 0; i < size; i++) values.add(read(in));
        return new KeyValue(values);
      }
      case BIN_DATA: {
        byte[] data = new byte[DataUtils.readVarInt(in)];
        in.get(data);
        return new BinData(data);
      }
      case UUID_VALUE: {
        long most = in.getLong();
        return new UUID(most, in.getLong());
      }
      case LEGACY_UUID: {
        long most = in.getLong();
        return new LegacyUUID(most, in.getLong());
      }
      case DECIMAL128: {
        long high = in.getLong();
        return new Decimal128(in.getLong(), high);
      }
      case TIMESTAMP: return new BsonTimestamp(in.getLong());
      case MIN_KEY: return MinKey.getInstance();
      case MAX_KEY: return MaxKey.getInstance();
      case REGEX: {
        String pattern = DataUtils.readString(in);
        return new BsonRegularExpression(pattern, DataUtils.readString(in));
      }
      case JAVASCRIPT: return new BsonJavaScript(DataUtils.readString(in));
      case SERIALIZED: {
        byte[] bytes = new byte[DataUtils.readVarInt(in)];
        in.get(bytes);
        return deserialize(bytes);
      }
      default: throw new IllegalStateException("compact store: unknown value tag " + tag);
    }
  }

  @Override
  public int compare(Object a, Object b) {
    if (a == b) return 0;
    if (a instanceof KeyValue ka && b instanceof KeyValue kb) {
      int n = Math.min(ka.size(), kb.size());
      for (int i = 0; i < n; i++) {
        int c = compareValues(ka.get(i), kb.get(i));
        if (c != 0) return c;
      }
      return Integer.compare(ka.size(), kb.size());
    }
    return compareValues(a, b);
  }

  private int compareValues(Object a, Object b) {
    if (a instanceof String sa && b instanceof String sb) return sa.compareTo(sb);
    int ra = absentRank(a), rb = absentRank(b);
    if (ra != rb) return Integer.compare(ra, rb);
    if (ra < 2) return 0;
    if (a.getClass() == b.getClass()) {
      if (a instanceof Long la) return Long.compare(la, (Long) b);
      if (a instanceof Integer ia) return Integer.compare(ia, (Integer) b);
    }
    int c = ORDER.compare(a, b);
    if (c != 0 || Objects.equals(a, b)) return c;
    c = a.getClass().getName().compareTo(b.getClass().getName());
    return c != 0 ? c : Arrays.compare(encode(a), encode(b));
  }

  /** Missing before null before any value. */
  private static int absentRank(Object value) {
    return value instanceof Missing ? 0 : value == null ? 1 : 2;
  }

  private byte[] encode(Object value) {
    WriteBuffer out = new WriteBuffer(64);
    write(out, value);
    ByteBuffer buffer = out.getBuffer();
    buffer.flip();
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return bytes;
  }

  /** An estimate of the value's heap size, for MVStore's page cache. */
  @Override
  public int getMemory(Object value) {
    if (value == null || value instanceof Missing || value instanceof Boolean) return 8;
    if (value instanceof String s) return 40 + 2 * s.length();
    if (value instanceof Document doc) {
      int size = 64;
      for (Map.Entry<String, Object> e : doc.entrySet()) size += 40 + 40 + 2 * e.getKey().length() + getMemory(e.getValue());
      return size;
    }
    if (value instanceof Collection<?> list) {
      int size = 40;
      for (Object item : list) size += 8 + getMemory(item);
      return size;
    }
    if (value instanceof KeyValue key) {
      int size = 56;
      for (Object item : key) size += 8 + getMemory(item);
      return size;
    }
    if (value instanceof BinData bin) return 32 + bin.getData().length;
    return 32;
  }

  private static byte[] serialize(Object value) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(value);
    } catch (IOException e) {
      throw new UncheckedIOException("compact store: cannot write a " + value.getClass().getName(), e);
    }
    return bytes.toByteArray();
  }

  private static Object deserialize(byte[] bytes) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      return in.readObject();
    } catch (IOException | ClassNotFoundException e) {
      throw new IllegalStateException("compact store: cannot read a serialized value", e);
    }
  }
}

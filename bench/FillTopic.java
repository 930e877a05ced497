// Fills a Kafka topic's partition 0 with COUNT progress events of RUNS other runs, fast:
// kafka-python produces about 7,000 records a second on this machine, Kafka's own client
// hundreds of thousands. Run as a single source file (JDK 11+), with the broker's jars:
//   java -cp 'KAFKA_LIBS/*' bench/FillTopic.java BOOTSTRAP TOPIC COUNT RUNS FIRST
// FIRST numbers the first event (so two fills make distinct messages).
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FillTopic {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        long count = Long.parseLong(args[2]), first = Long.parseLong(args[4]);
        int runs = Integer.parseInt(args[3]);
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("linger.ms", "20");
        props.put("batch.size", String.valueOf(1 << 20));
        props.put("acks", "1");
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (long i = first; i < first + count; i++) {
                String run = String.format("other-%04d", i % runs);
                String value = "{\"v\":1,\"run_id\":\"" + run + "\",\"node_id\":\"train\","
                        + "\"kind\":\"log\",\"message\":\"event " + i + " of another run\"}";
                producer.send(new ProducerRecord<>(topic, 0, run.getBytes(), value.getBytes()));
            }
            producer.flush();
        }
    }
}

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts AWS's DynamoDB Local exactly as its own ServerRunner does, but listening on 127.0.0.1 only:
 * DynamoDB Local has no bind-address option and its Jetty server otherwise listens on every interface.
 * Run with Java's source-file launcher (JDK 11+), the DynamoDB Local jar and its lib folder on the class path.
 */
public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) {
      if (connector instanceof ServerConnector serverConnector) serverConnector.setHost("127.0.0.1");
    }
    // The parent holds our stdin open for as long as it lives: when it goes, even killed, so do we.
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {}
      } catch (java.io.IOException ignored) {
      }
      System.exit(0);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    proxy.start();
    // The parent reads this line to learn that the port is open.
    System.out.println("DynamoDB Local listening on 127.0.0.1");
    System.out.flush();
    proxy.join();
  }
}

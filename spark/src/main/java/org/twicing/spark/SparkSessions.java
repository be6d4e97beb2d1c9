package org.twicing.spark;

import org.apache.spark.sql.SparkSession;

/** How twicing gets its Spark session: the one spark-submit configured, or a local one for a {@code local[N]} master. */
public final class SparkSessions {
  private SparkSessions() { }

  /**
   * The session for {@code master}: under spark-submit (which sets {@code spark.master}) its configuration wins;
   * otherwise a new session on {@code master} with the UI off and the driver bound to the loopback address when
   * the master is local, since a local run needs no network.
   */
  public static SparkSession local(String master) {
    SparkSession.Builder b = SparkSession.builder().appName("twicing");
    if (System.getProperty("spark.master") != null) {
      // Under spark-submit: its --master and --conf settings apply; --spark only switched Spark on.
      return b.getOrCreate();
    }
    b.master(master).config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4");
    if (master.startsWith("local")) {
      b.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1");
    }
    return b.getOrCreate();
  }
}

//! A real-ZooKeeper test harness: throwaway standalone servers and ensembles on loopback.

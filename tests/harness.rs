#[test]
fn p() {
    assert_eq!(mio_zookeeper::testing::probe(), 1);
}

"""Small literal tables: same rows and types as createDataFrame, without Python workers."""

from pyspark.testing import assertDataFrameEqual

from customer_behavior.local_data import literal_dataframe


def test_literal_dataframe_matches_create_dataframe(spark):
    schema = "k int, silhouette double, name string, is_chosen boolean, n long"
    rows = [(2, 0.5, "a", False, 10), (3, None, None, True, 7)]
    df = literal_dataframe(spark, rows, schema)
    assert df.schema.simpleString() == "struct<k:int,silhouette:double,name:string,is_chosen:boolean,n:bigint>"
    assertDataFrameEqual(df, spark.createDataFrame(rows, schema))
    assert literal_dataframe(spark, [], schema).count() == 0

import json
import boto3
import random

CHOICES = ["TECHNOLOGY", "ENERGY", "FINANCIAL"]

def lambda_handler(event, context):
    # just generate some random data
    data = {"ticker_symbol":"HJK","sector":random.choice(CHOICES),"change":0.04,"price":4.79}
    
    # convert it to JSON -- IMPORTANT!!
    as_jsonstr = json.dumps(data)
    
    # initialize boto3 client
    fh = boto3.client("firehose", "us-east-2")
    
    # this actually pushed to our firehose datastream
    # we must "encode" in order to convert it into the
    # bytes datatype as all of AWS libs operate over

# bytes not strings
    fh.put_record(
        DeliveryStreamName="tm-delivery-stream", 
        Record={"Data": as_jsonstr.encode('utf-8')})

    # return
    return {
        'statusCode': 200,
        'body': json.dumps(f'Done! Recorded: {as_jsonstr}')
    }


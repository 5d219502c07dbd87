"""What a receive costs on a queue that holds many messages, in the local lab.

    .venv/bin/python bench/bench_sqs_receive.py [--messages 500]

Fills a queue, then receives and deletes every message ten at a time and prints the CPU per receive. moto
alone computes all queue attributes (two of them count the whole queue) for each message it hands out; the
lab reads the retention period directly, so the cost follows the batch, not the queue.
"""

import argparse
import time

import boto3

import lambda_lab


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    lab = lambda_lab.Lab(seed=1)
    try:
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        for start in range(0, args.messages, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                          for i in range(start, min(start + 10, args.messages))])
        receives, received, cpu0 = 0, 0, time.process_time()
        while received < args.messages:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            receives += 1
            received += len(batch)
            if batch:
                sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                 for i, m in enumerate(batch)])
        cpu_ms = (time.process_time() - cpu0) * 1000
        print(f"{args.messages} messages, {receives} receives of up to 10 (with their deletes): "
              f"{cpu_ms / receives:.1f} ms of CPU per receive")
    finally:
        lab.stop()


if __name__ == "__main__":
    main()

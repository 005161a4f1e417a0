using AgentRuns.Functions.Runs;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The in-process feed that hands committed events to the streams of this process.</summary>
public sealed class RunEventFeedTests
{
    [Fact]
    public void After_GivesTheEventsRightAfterTheSeq_UpToTheFirstHole()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        notifier.Appended("run_a", [Event(3), Event(4)]);
        notifier.Appended("run_a", [Event(6)]);

        Assert.Equal(FeedState.Events, feed.After(2, out var events));
        Assert.Equal([3L, 4L], events.Select(e => e.Seq));
        Assert.Equal(FeedState.Gap, feed.After(4, out _)); // 5 was written elsewhere: only storage has it
        Assert.Equal(FeedState.Gap, feed.After(1, out _)); // 2 was never appended here
        Assert.Equal(FeedState.Nothing, feed.After(6, out var none));
        Assert.Empty(none);
        Assert.True(feed.Holds(6));
        Assert.False(feed.Holds(5));
    }

    [Fact]
    public void EventsAnnouncedOutOfOrder_AreGivenInOrder_OnceTheHoleIsFilled()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        notifier.Appended("run_a", [Event(2)]);
        Assert.Equal(FeedState.Gap, feed.After(0, out _));

        notifier.Appended("run_a", [Event(1)]);
        notifier.Appended("run_a", [Event(1)]); // announced twice: kept once

        Assert.Equal(FeedState.Events, feed.After(0, out var events));
        Assert.Equal([1L, 2L], events.Select(e => e.Seq));
    }

    [Fact]
    public async Task NextAppend_CompletesAtTheNextAppend_OfItsRunOnly()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        var next = feed.NextAppend();

        notifier.Appended("run_b", [Event(1)]);
        notifier.Appended("run_a", []);
        Assert.False(next.IsCompleted);

        notifier.Appended("run_a", [Event(1)]);
        await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(feed.NextAppend().IsCompleted); // a fresh wait for the append after
    }

    [Fact]
    public void AFeed_KeepsOnlyItsNewestEvents_SoALaggingStreamReadsStorage()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        notifier.Appended("run_a", [.. Enumerable.Range(1, RunEventFeed.Capacity + 10).Select(i => Event(i))]);

        Assert.Equal(FeedState.Gap, feed.After(0, out _));
        Assert.Equal(FeedState.Events, feed.After(10, out var events));
        Assert.Equal(RunEventFeed.Capacity, events.Count);
    }

    [Fact]
    public void AppendsToARunNobodyFollows_AreNotKept_AndAFeedEndsWithItsLastSubscriber()
    {
        var notifier = new RunEventNotifier();
        notifier.Appended("run_a", [Event(1)]);
        Assert.Equal(0, notifier.OpenFeeds);

        var first = notifier.Subscribe("run_a");
        var second = notifier.Subscribe("run_a");
        Assert.Same(first, second);
        Assert.Equal(FeedState.Nothing, first.After(0, out _)); // appended before anyone followed

        first.Dispose();
        Assert.Equal(1, notifier.OpenFeeds);
        second.Dispose();
        Assert.Equal(0, notifier.OpenFeeds);

        using var third = notifier.Subscribe("run_a"); // a new feed, not the closed one
        Assert.NotSame(first, third);
        notifier.Appended("run_a", [Event(1)]);
        Assert.Equal(FeedState.Events, third.After(0, out _));
    }

    [Fact]
    public async Task SubscribersComingAndGoingConcurrently_EachEndsWithEveryEvent_AsAStreamWould()
    {
        var notifier = new RunEventNotifier();
        const long Appends = 3000;
        var committed = 0L; // what a storage read would return: set before the append is announced, as the run store does
        var incomplete = 0;
        var wakes = 0;
        var writer = Task.Run(async () =>
        {
            for (var seq = 1L; seq <= Appends; seq++)
            {
                Volatile.Write(ref committed, seq);
                notifier.Appended("run_a", [Event(seq)]);
                if (seq % 10 == 0)
                {
                    await Task.Delay(1); // let readers catch up and wait, so that wake-ups are tried, not only hand-offs
                }
            }
        });
        var readers = Enumerable.Range(0, 4).Select(reader => Task.Run(async () =>
        {
            while (!writer.IsCompleted)
            {
                using var feed = notifier.Subscribe("run_a");
                var seq = Volatile.Read(ref committed); // the stream's first read, after it subscribed
                for (var woken = 0; woken < 5;)
                {
                    var next = feed.NextAppend();
                    var state = feed.After(seq, out var events);
                    if (state == FeedState.Events)
                    {
                        seq = events[^1].Seq;
                        continue;
                    }

                    if (state == FeedState.Gap)
                    {
                        seq = Volatile.Read(ref committed); // a read of storage
                        continue;
                    }

                    if (await Task.WhenAny(next, writer) != next && !next.IsCompleted)
                    {
                        // The writer is done and nothing woke this reader: it must already have every event.
                        if (seq != Appends)
                        {
                            Interlocked.Increment(ref incomplete);
                        }

                        break;
                    }

                    Interlocked.Increment(ref wakes);
                    woken++;
                }
            }
        })).ToList();

        await Task.WhenAll(readers.Append(writer)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, incomplete);
        Assert.True(wakes > 100, $"only {wakes} wake-ups: the race was hardly tried");
        Assert.Equal(0, notifier.OpenFeeds);
    }

    [Fact]
    public async Task ARecordReadShowingALongerLog_WakesTheFeed_AndReportsAHoleToRead()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        notifier.Appended("run_a", [Event(1), Event(2)]);
        var next = feed.NextAppend();

        notifier.Seen("run_a", 2); // nothing new
        Assert.False(next.IsCompleted);
        notifier.Seen("run_a", 4); // 3 and 4 were committed without being handed over

        await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(FeedState.Gap, feed.After(2, out _));
        Assert.Equal(FeedState.Nothing, feed.After(4, out _));
        Assert.Equal(FeedState.Events, feed.After(0, out var held));
        Assert.Equal([1L, 2L], held.Select(e => e.Seq));
    }

    [Fact]
    public void AFeed_HoldsABoundedNumberOfCharacters_WhateverTheEventsSize()
    {
        var notifier = new RunEventNotifier();
        using var feed = notifier.Subscribe("run_a");
        var big = new string('x', 64 * 1024);
        notifier.Appended("run_a", [.. Enumerable.Range(1, 10).Select(i => Event(i, big))]);

        Assert.Equal(FeedState.Gap, feed.After(0, out _));
        var held = Enumerable.Range(0, 10).Count(i => feed.Holds(i + 1));
        Assert.Equal(RunEventFeed.CapacityChars / big.Length, held);
        Assert.True(feed.Holds(10));
    }

    private static RunEvent Event(long seq, string value = "{}") => new(seq, "run.worker.progress", DateTimeOffset.UnixEpoch, false, value);
}

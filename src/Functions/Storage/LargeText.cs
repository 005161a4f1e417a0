using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// A text value of any length in table properties: Table Storage holds at most 32 K UTF-16 characters in a string property,
/// so longer text is split over <c>Name</c>, <c>Name_2</c>, <c>Name_3</c>… of the same entity (never between the two halves of
/// a surrogate pair) and joined again on read. Costs no extra request; an entity holds at most 1 MiB, which
/// <see cref="Model.RunLimits"/> keeps every entity under.
/// </summary>
public static class LargeText
{
    /// <summary>Characters per property, under the 32,768 the service allows.</summary>
    public const int ChunkChars = 30_000;

    /// <summary>The most an entity holds, by <see cref="EstimateSize"/>: the service refuses a larger one (400 <c>EntityTooLarge</c>).</summary>
    public const long MaxEntityBytes = 1024 * 1024;

    public static void Write(TableEntity entity, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(entity);
        if (value is null)
        {
            return;
        }

        var part = 1;
        var start = 0;
        do
        {
            var length = Math.Min(ChunkChars, value.Length - start);
            if (start + length < value.Length && char.IsHighSurrogate(value[start + length - 1]))
            {
                length--;
            }

            entity[part == 1 ? name : $"{name}_{part}"] = value.Substring(start, length);
            start += length;
            part++;
        }
        while (start < value.Length);
    }

    public static string? Read(TableEntity entity, string name)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var first = entity.GetString(name);
        if (first is null || !entity.ContainsKey($"{name}_2"))
        {
            return first;
        }

        var text = new System.Text.StringBuilder(first);
        for (var part = 2; entity.GetString($"{name}_{part}") is { } next; part++)
        {
            text.Append(next);
        }

        return text.ToString();
    }

    /// <summary>An estimate of the entity's stored size (UTF-16 strings plus per-property overhead), to fail clearly before the service does.</summary>
    public static long EstimateSize(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        long size = 4 + 2 * (entity.PartitionKey.Length + entity.RowKey.Length);
        foreach (var (key, value) in entity)
        {
            size += 8 + 2 * key.Length + value switch
            {
                string s => 4 + 2L * s.Length,
                _ => 8,
            };
        }

        return size;
    }
}

/// The version of aicompress, recorded in every file it writes (`aicompress.version`).
public enum AICompressVersion {
    public static let string = "0.1.0"
}
